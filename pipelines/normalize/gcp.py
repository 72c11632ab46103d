"""Cloud Audit Logs entries to event columns: principal, project, region and status rules."""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.normalize import columns as col
from pipelines.normalize.decode import Decoded, Raw, decode_all
from pipelines.parse.schema import LogEntry

ONE: Final = msgspec.json.Decoder(LogEntry)
MANY: Final = msgspec.json.Decoder(list[LogEntry])

GRPC_CODES: Final = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}
"""google.rpc.Code: the names Cloud Audit Logs' ``status.code`` numbers stand for."""

CANONICAL_ACTIONS: Final = {
    # Cloud Run Admin API v1 (Knative style) replaces a whole service; v2 calls it an update.
    "ReplaceService": "UpdateService",
    "ReplaceJob": "UpdateJob",
}
"""Method names that differ between API versions for the same operation, mapped to one name."""

_LAST_SEGMENT: Final = re.compile(r"^.*[./]")


def action_of(method: str | None) -> str | None:
    """Last segment of a methodName, canonical across API versions (once per distinct name)."""
    if method is None:
        return None
    name = _LAST_SEGMENT.sub("", method)
    return CANONICAL_ACTIONS.get(name, name)


def decode(raws: list[Raw], index: list[int]) -> Decoded[LogEntry]:
    """Decode entries; audit entries without a ``protoPayload`` become failures."""
    decoded = decode_all(ONE, MANY, raws, index)
    if all(entry.protoPayload is not None for entry in decoded.records):
        return decoded
    kept: Decoded[LogEntry] = Decoded(failures=decoded.failures)
    for entry, raw, position in zip(decoded.records, decoded.raws, decoded.index, strict=True):
        if entry.protoPayload is None:
            kept.failures.append(
                (position, raw, "LogEntry has no protoPayload: not an audit log entry")
            )
        else:
            kept.records.append(entry)
            kept.raws.append(raw)
            kept.index.append(position)
    return kept


def account_of(entry: LogEntry) -> str | None:
    """Project id from ``logName`` (``projects/P/logs/...``), else the resource's project label."""
    log = entry.logName
    if log and log.startswith("projects/"):
        return log.split("/", 2)[1]
    labels = entry.resource.labels if entry.resource is not None else None
    if labels and labels.get("project_id"):
        return labels["project_id"]
    if log and "/" in log:
        return "/".join(log.split("/", 2)[:2])  # organizations/N, folders/N, billingAccounts/N
    return None


def region_of(entry: LogEntry) -> str:
    labels = entry.resource.labels if entry.resource is not None else None
    if labels:
        return labels.get("region") or labels.get("location") or "global"
    return "global"


def principal_of(email: str | None, subject: str | None) -> tuple[str, str]:
    """(principal, principal_type): service accounts by their domain, no identity = anonymous."""
    if email:
        return email, "service_account" if email.endswith(".gserviceaccount.com") else "user"
    if subject:
        return subject, "user"
    return "anonymous", "anonymous"


def table(decoded: Decoded[LogEntry]) -> tuple[pa.Table, list[int]]:
    """Event table of decoded entries, and the record indexes of rows whose time is bad."""
    entries = decoded.records
    payloads = [entry.protoPayload for entry in entries]
    principal: list[str] = []
    principal_type: list[str] = []
    source_ip: list[str | None] = []
    user_agent: list[str | None] = []
    outcome: list[str] = []
    error_code: list[str | None] = []
    for proto in payloads:
        assert proto is not None  # decode() moved entries without a payload to failures
        auth = proto.authenticationInfo
        who, kind = (
            principal_of(auth.principalEmail, auth.principalSubject)
            if auth
            else principal_of(None, None)
        )
        principal.append(who)
        principal_type.append(kind)
        meta = proto.requestMetadata
        source_ip.append(meta.callerIp if meta else None)
        user_agent.append(meta.callerSuppliedUserAgent if meta else None)
        code = proto.status.code if proto.status is not None else None
        if code:
            outcome.append("failure")
            error_code.append(GRPC_CODES.get(code, f"CODE_{code}"))
        else:
            outcome.append("success")
            error_code.append(None)

    raw_action = pa.array([p.methodName for p in payloads], pa.string())  # type: ignore[union-attr]
    service = pa.array([p.serviceName for p in payloads], pa.string())  # type: ignore[union-attr]
    action = col.map_distinct(raw_action, action_of, pa.string())
    category = col.categories(service, action)
    data_access = pa.array(
        [bool(e.logName) and "data_access" in e.logName for e in entries],  # type: ignore[operator]
        pa.bool_(),
    )
    times = col.parse_times([e.timestamp for e in entries])
    bad_time = [decoded.index[i] for i in pc.indices_nonzero(pc.is_null(times)).to_pylist()]
    columns: dict[str, pa.Array | list[Any]] = {
        "id": [e.insertId for e in entries],
        "provider": pa.repeat(pa.scalar("gcp", pa.string()), len(entries)),
        "account": [account_of(e) for e in entries],
        "region": [region_of(e) for e in entries],
        "service": service,
        "action": action,
        "raw_action": raw_action,
        "category": category,
        "principal": principal,
        "principal_type": principal_type,
        "session": pa.nulls(len(entries), pa.string()),
        "source_ip": source_ip,
        "user_agent": user_agent,
        "resource": [p.resourceName for p in payloads],  # type: ignore[union-attr]
        "outcome": outcome,
        "error_code": error_code,
        "read_only": col.read_only_from(
            pa.nulls(len(entries), pa.bool_()), category, writes_excluded=data_access
        ),
        "mfa": pa.nulls(len(entries), pa.bool_()),
        "raw": decoded.raw_column(),
    }
    return col.table(columns, times), bad_time
