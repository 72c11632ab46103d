"""CloudTrail records to event columns: identity, resource, outcome and MFA rules of DESIGN.md.

This is the one per-record loop of the AWS path (attribute reads on decoded Structs, ~1 us per
record, measured in bench/normalize.py); everything else is vectorized in ``columns``.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.normalize import columns as col
from pipelines.normalize.decode import Decoded, Raw, decode_all
from pipelines.parse.schema import RESOURCE_KEYS, AwsRecord, RequestParameters, UserIdentity

ONE: Final = msgspec.json.Decoder(AwsRecord)
MANY: Final = msgspec.json.Decoder(list[AwsRecord])
_LAMBDA_VERSION: Final = r"\d{8}(v\d+)?$"
"""Lambda's API-version suffix: ``UpdateFunctionCode20150331v2``, ``GetFunction20150331``."""

_FEDERATED: Final = frozenset(
    {"FederatedUser", "SAMLUser", "WebIdentityUser", "IdentityCenterUser"}
)
_TRUE: Final = frozenset({True, "true", "True", "Yes", "yes"})
_FALSE: Final = frozenset({False, "false", "False", "No", "no"})


class _ConsoleLogin(msgspec.Struct, gc=False):
    ConsoleLogin: Any = None


_CONSOLE: Final = msgspec.json.Decoder(_ConsoleLogin)


def decode(raws: list[Raw], index: list[int]) -> Decoded[AwsRecord]:
    return decode_all(ONE, MANY, raws, index)


def principal_of(ident: UserIdentity | None, event_source: str) -> tuple[str, str, str | None]:
    """(principal, principal_type, session) of a CloudTrail ``userIdentity``."""
    if ident is None:
        return "anonymous", "anonymous", None
    kind = ident.type
    arn = ident.arn
    if kind == "IAMUser":
        if arn:
            return arn, "user", None
        return f"arn:aws:iam::{ident.accountId or ''}:user/{ident.userName or ''}", "user", None
    if kind == "AssumedRole":
        session = arn.rsplit("/", 1)[1] if arn and arn.count("/") >= 2 else None
        ctx = ident.sessionContext
        issuer = (
            ctx.sessionIssuer.arn if ctx is not None and ctx.sessionIssuer is not None else None
        )
        if not issuer and arn and ":assumed-role/" in arn:
            head, _, tail = arn.partition(":assumed-role/")
            issuer = head.replace(":sts:", ":iam:", 1) + ":role/" + tail.split("/", 1)[0]
        return issuer or arn or ident.principalId or "anonymous", "role", session
    if kind == "Root":
        return arn or f"arn:aws:iam::{ident.accountId or ''}:root", "root", None
    if kind == "AWSService":
        return ident.invokedBy or event_source, "service", None
    if kind in _FEDERATED:
        return arn or ident.userName or ident.principalId or "anonymous", "federated", None
    if kind == "Role":
        return arn or ident.principalId or "anonymous", "role", None
    if kind == "AWSAccount":
        if ident.accountId == "ANONYMOUS_PRINCIPAL":
            return "anonymous", "anonymous", None
        return ident.principalId or ident.accountId or "anonymous", "user", None
    name = arn or ident.userName or ident.principalId
    return (name, "user", None) if name else ("anonymous", "anonymous", None)


def resource_of(params: RequestParameters | None, record: AwsRecord) -> str | None:
    """The target named in ``requestParameters`` (in RESOURCE_KEYS order), else ``resources[0]``."""
    if params is not None:
        for key in RESOURCE_KEYS:
            value = getattr(params, key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, list) and value and isinstance(value[0], str):
                return value[0]
    resources = record.resources
    if resources:
        return resources[0].ARN
    return None


def _flag(value: object) -> bool | None:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def table(decoded: Decoded[AwsRecord]) -> tuple[pa.Table, list[int]]:
    """Event table of decoded records, and the record indexes of rows whose time is bad."""
    records = decoded.records
    principal: list[str] = []
    principal_type: list[str] = []
    session: list[str | None] = []
    resource: list[str | None] = []
    outcome: list[str] = []
    read_only: list[bool | None] = []
    mfa: list[bool | None] = []
    for record in records:
        ident = record.userIdentity
        who, kind, name = principal_of(ident, record.eventSource)
        principal.append(who)
        principal_type.append(kind)
        session.append(name)
        resource.append(resource_of(record.requestParameters, record))
        failed = record.errorCode is not None
        if not failed and record.eventName == "ConsoleLogin":
            try:
                failed = _CONSOLE.decode(record.responseElements).ConsoleLogin == "Failure"
            except (msgspec.DecodeError, msgspec.ValidationError):
                failed = False
        outcome.append("failure" if failed else "success")
        read_only.append(_flag(record.readOnly))
        used = (
            record.additionalEventData.MFAUsed if record.additionalEventData is not None else None
        )
        if used is None and ident is not None and ident.sessionContext is not None:
            attributes = ident.sessionContext.attributes
            used = attributes.mfaAuthenticated if attributes is not None else None
        mfa.append(_flag(used))

    raw_action = pa.array([r.eventName for r in records], pa.string())
    service = pa.array([r.eventSource for r in records], pa.string())
    action = pc.replace_substring_regex(raw_action, _LAMBDA_VERSION, "")
    category = col.categories(service, action)
    times = col.parse_times([r.eventTime for r in records])
    bad_time = [decoded.index[i] for i in pc.indices_nonzero(pc.is_null(times)).to_pylist()]
    columns: dict[str, pa.Array | list[Any]] = {
        "id": [r.eventID for r in records],
        "provider": pa.repeat(pa.scalar("aws", pa.string()), len(records)),
        "account": [
            r.recipientAccountId or (r.userIdentity.accountId if r.userIdentity else None)
            for r in records
        ],
        "region": [r.awsRegion for r in records],
        "service": service,
        "action": action,
        "raw_action": raw_action,
        "category": category,
        "principal": principal,
        "principal_type": principal_type,
        "session": session,
        "source_ip": [r.sourceIPAddress for r in records],
        "user_agent": [r.userAgent for r in records],
        "resource": resource,
        "outcome": outcome,
        "error_code": [r.errorCode for r in records],
        "read_only": col.read_only_from(pa.array(read_only, pa.bool_()), category),
        "mfa": mfa,
        "raw": decoded.raw_column(),
    }
    return col.table(columns, times), bad_time
