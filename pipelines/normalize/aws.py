"""CloudTrail records to event columns: identity, resource, outcome and MFA rules of DESIGN.md.

This is the one per-record loop of the AWS path (attribute reads on decoded Structs, ~1 us per
record, measured in bench/normalize.py); everything else is vectorized in ``columns``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from msgspec.structs import astuple

from pipelines.normalize import carried
from pipelines.normalize import columns as col
from pipelines.normalize.decode import Decoded, Raw, decode_all, rows_dropping
from pipelines.parse.schema import (
    AdditionalEventData,
    AwsRecord,
    RequestParameters,
    Resource,
    SessionContext,
    UserIdentity,
)

ONE: Final = msgspec.json.Decoder(AwsRecord)
REQUIRED: Final = frozenset({"eventID", "eventTime", "eventSource", "eventName"})
"""What an event cannot exist without: a record mistyped in any other field is kept without it."""
IDENTITY: Final = (
    *(f"userIdentity.{key}" for key in UserIdentity.__struct_fields__ if key != "sessionContext"),
    "userIdentity.sessionContext.sessionIssuer",
)
"""The fields the principal is read from: a record decoded without one has no principal (null,
never ``anonymous``); one without only its MFA attribute keeps it."""
ERROR: Final = ("errorCode",)
"""A record decoded without its error code has an unknown outcome: null, never ``success``."""
_LAMBDA_VERSION: Final = re.compile(r"\d{8}(v\d+)?$")
"""Lambda's API-version suffix: ``UpdateFunctionCode20150331v2``, ``GetFunction20150331``."""

_FEDERATED: Final = frozenset(
    {"FederatedUser", "SAMLUser", "WebIdentityUser", "IdentityCenterUser"}
)
_FLAGS: Final[dict[object, bool]] = {
    **dict.fromkeys((True, "true", "True", "Yes", "yes"), True),
    **dict.fromkeys((False, "false", "False", "No", "no"), False),
}


class _ConsoleLogin(msgspec.Struct, gc=False):
    ConsoleLogin: Any = None


_CONSOLE: Final = msgspec.json.Decoder(_ConsoleLogin)


def strip_version(event_name: str | None) -> str | None:
    """``UpdateFunctionCode20150331v2`` -> ``UpdateFunctionCode`` (once per distinct name)."""
    return _LAMBDA_VERSION.sub("", event_name) if event_name is not None else None


def decode(raws: list[Raw], index: list[int]) -> Decoded[AwsRecord]:
    return decode_all(ONE, raws, index, REQUIRED)


def principal_of(ident: UserIdentity | None) -> tuple[str, str, str | None]:
    """(principal, principal_type, session) of a CloudTrail ``userIdentity`` that is not an AWS
    service's (``_principals`` reads those)."""
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


def resource_of(params: RequestParameters | None, resources: list[Resource] | None) -> str | None:
    """The target named in ``requestParameters`` (in RESOURCE_KEYS order), else ``resources[0]``."""
    if params is not None:
        # Fields in RESOURCE_KEYS order; astuple reads them in C, most are None.
        for value in astuple(params):
            if value is None:
                continue
            if value.__class__ is str:
                if value:
                    return value
            elif isinstance(value, list) and value and isinstance(value[0], str):
                return value[0]
    if resources:
        return resources[0].ARN
    return None


def _flags(values: tuple[object, ...] | list[object]) -> pa.Array:
    """Logged booleans (``true``, ``"true"``, ``"Yes"`` ...) as an Arrow bool column."""
    try:
        return pa.array(values, pa.bool_())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(list(map(_FLAGS.get, values)), pa.bool_())


def _mfa(
    extras: Sequence[AdditionalEventData | None], sessions: Mapping[int, SessionContext]
) -> list[object]:
    """The logged MFA flag of every record: ``MFAUsed``, else its session's ``mfaAuthenticated``.

    The session's flag is logged as a string (``"true"``) and read here as ``_flags`` would:
    one such string among the values made ``_flags`` convert the whole column twice.
    """
    used: list[object] = [extra.MFAUsed if extra is not None else None for extra in extras]
    for row, context in sessions.items():
        if used[row] is None and context.attributes is not None:
            used[row] = _FLAGS.get(context.attributes.mfaAuthenticated)
    return used


def _principals(
    idents: Sequence[UserIdentity | None],
    sources: Sequence[str],
    kinds: list[str | None],
    invoked_by: list[str | None],
    dropped: list[int],
) -> tuple[list[str | None], list[str | None], list[str | None]]:
    """The principal, principal_type and session columns, null on the ``dropped`` rows.

    An AWS service's call (AwsServiceEvent records carry only accountId and invokedBy, no type)
    is the invoking service, else the event source. Such calls are nine records in ten of the
    288k-event benchmark: read off the ``kinds`` and ``invoked_by`` columns in one
    comprehension, they skip the call of ``principal_of`` (~0.9 us a record).
    """
    principal: list[str | None] = [
        (invoker or source) if kind == "AWSService" or (kind is None and invoker) else None
        for kind, invoker, source in zip(kinds, invoked_by, sources, strict=True)
    ]
    principal_type: list[str | None] = ["service"] * len(principal)
    session: list[str | None] = [None] * len(principal)
    for row in [row for row, name in enumerate(principal) if name is None]:
        principal[row], principal_type[row], session[row] = principal_of(idents[row])
    for row in dropped:
        principal[row] = principal_type[row] = session[row] = None
    return principal, principal_type, session


def table(decoded: Decoded[AwsRecord], *, carry: bool = False) -> tuple[pa.Table, list[int]]:
    """Event table of decoded records, and the record indexes of rows whose time is bad;
    ``carry``: with the raw fields of ``carried`` after the event columns."""
    records = decoded.records
    n = len(records)
    # One C-level transpose instead of a Python attribute read per field per record.
    (
        ids, times_text, sources, names, regions, ips, agents, errors, logged_read_only,
        recipients, idents, params, resources, extras, responses, event_types,
    ) = zip(*map(astuple, records), strict=True)  # fmt: skip
    resource = list(map(resource_of, params, resources))
    sessions = {
        row: ident.sessionContext
        for row, ident in enumerate(idents)
        if ident is not None and ident.sessionContext is not None
    }
    kinds = [i.type if i is not None else None for i in idents]
    invoked_by = [i.invokedBy if i is not None else None for i in idents]
    principal, principal_type, session = _principals(
        idents, sources, kinds, invoked_by, rows_dropping(decoded, IDENTITY)
    )

    raw_action = pa.array(names, pa.string())
    service = pa.array(sources, pa.string())
    error_code = pa.array(errors, pa.string())
    failed = pc.is_valid(error_code)
    logins = pc.indices_nonzero(pc.equal(raw_action, "ConsoleLogin")).to_pylist()
    if logins:
        console_failed = [i for i in logins if _console_failure(responses[i])]
        if console_failed:
            mask = np.zeros(n, dtype=bool)
            mask[console_failed] = True
            failed = pc.or_(failed, pa.array(mask))
    outcome = pc.if_else(failed, "failure", "success")
    unknown = rows_dropping(decoded, ERROR)
    if unknown:
        mask = np.zeros(n, dtype=bool)
        mask[unknown] = True
        outcome = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), outcome)
    account = pa.array(recipients, pa.string())
    if account.null_count:
        fallback = pa.array([i.accountId if i is not None else None for i in idents], pa.string())
        account = pc.coalesce(account, fallback)
    action = col.map_distinct(raw_action, strip_version, pa.string())
    category = col.categories(service, action)
    times = col.parse_times(times_text)
    bad_time = col.null_rows(times, decoded.index)
    columns: dict[str, pa.Array | Sequence[Any]] = {
        "id": ids,
        "provider": pa.repeat(pa.scalar("aws", pa.string()), n),
        "account": account,
        "region": regions,
        "service": service,
        "action": action,
        "raw_action": raw_action,
        "category": category,
        "principal": principal,
        "principal_type": principal_type,
        "session": session,
        "source_ip": ips,
        "user_agent": agents,
        "resource": resource,
        "outcome": outcome,
        "error_code": error_code,
        "read_only": col.read_only_from(_flags(logged_read_only), category),
        "mfa": _flags(_mfa(extras, sessions)),
        "raw": decoded.raw_column(),
    }
    events = col.table(columns, times)
    if carry:
        arns = [i.arn if i is not None else None for i in idents]
        events = carried.with_aws(events, decoded, (kinds, arns, invoked_by), sessions, event_types)
    return events, bad_time


def _console_failure(response: msgspec.Raw) -> bool:
    try:
        return bool(_CONSOLE.decode(response).ConsoleLogin == "Failure")
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return False
