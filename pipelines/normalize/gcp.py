"""Cloud Logging entries to event columns: principal, project, region and status rules.

Two kinds of entry: Cloud Audit Logs (``protoPayload``: who did what through an API) and the
request logs of Cloud Run services and 2nd gen / 1st gen Cloud Functions (``httpRequest``): the
only record of each invocation over HTTP. A request log names no caller (the platform checks
IAM but does not log who), so its principal is null: it feeds per-function volume baselines,
not per-principal behaviour.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.normalize import columns as col
from pipelines.normalize.decode import Decoded, Raw, decode_all, rows_dropping
from pipelines.parse.schema import LogEntry

ONE: Final = msgspec.json.Decoder(LogEntry)
REQUIRED: Final = frozenset({"insertId", "timestamp", "protoPayload", "httpRequest"})
"""An entry's id and time, and the payload that says what happened (an audit record or an
HTTP request): mistyped anywhere else, the entry is kept without that field."""
IDENTITY: Final = (
    "protoPayload.authenticationInfo.principalEmail",
    "protoPayload.authenticationInfo.principalSubject",
)
"""An entry decoded without its caller has no principal: null, never ``anonymous``."""
STATUS: Final = ("protoPayload.status.code", "httpRequest.status")
"""An entry decoded without its status has an unknown outcome: null, never ``success``."""

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

REQUEST_LOG_SERVICES: Final = {
    "cloud_run_revision": ("run.googleapis.com", "services", "service_name"),
    "cloud_function": ("cloudfunctions.googleapis.com", "functions", "function_name"),
}
"""Monitored resource types whose request logs are invocations: (service, collection, label)."""

INVOKE: Final = "Invoke"
"""The action of a request-log invocation (categorized as an invocation for both services)."""

HTTP_STATUS_CODES: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
"""HTTP statuses as google.rpc.Code names (the mapping Google's APIs use), else ``HTTP_<n>``."""

_LAST_SEGMENT: Final = re.compile(r"^.*[./]")


def action_of(method: str | None) -> str | None:
    """Last segment of a methodName, canonical across API versions (once per distinct name)."""
    if method is None:
        return None
    name = _LAST_SEGMENT.sub("", method)
    return CANONICAL_ACTIONS.get(name, name)


def is_request_log(entry: LogEntry) -> bool:
    resource = entry.resource
    return (
        entry.protoPayload is None
        and entry.httpRequest is not None
        and resource is not None
        and resource.type in REQUEST_LOG_SERVICES
    )


def decode(raws: list[Raw], index: list[int]) -> Decoded[LogEntry]:
    """Decode entries; an entry that is neither an audit entry nor a serverless request log
    becomes a failure."""
    decoded = decode_all(ONE, raws, index, REQUIRED)
    if all(entry.protoPayload is not None for entry in decoded.records):
        return decoded
    kept: Decoded[LogEntry] = Decoded(failures=decoded.failures, dropped=decoded.dropped)
    for entry, raw, position in zip(decoded.records, decoded.raws, decoded.index, strict=True):
        if entry.protoPayload is None and not is_request_log(entry):
            kept.failures.append(
                (
                    position,
                    raw,
                    "LogEntry has no protoPayload: not an audit log entry (nor a Cloud Run or "
                    "Cloud Functions request log with httpRequest)",
                )
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


def request_resource(entry: LogEntry) -> str | None:
    """``projects/P/locations/L/services/S`` (or ``.../functions/F``): the name audit entries
    give the same service or function, so both kinds of event share one resource."""
    resource = entry.resource
    if resource is None or resource.type not in REQUEST_LOG_SERVICES:
        return None
    _, collection, label = REQUEST_LOG_SERVICES[resource.type]
    labels = resource.labels or {}
    name = labels.get(label)
    if not name:
        return None
    return f"projects/{account_of(entry) or ''}/locations/{region_of(entry)}/{collection}/{name}"


def http_error(status: int | None) -> str | None:
    """None for a success (below 400), else the status as a google.rpc.Code name."""
    if status is None or status < 400:
        return None
    return HTTP_STATUS_CODES.get(status, f"HTTP_{status}")


def table(decoded: Decoded[LogEntry]) -> tuple[pa.Table, list[int]]:
    """Event table of decoded entries, and the record indexes of rows whose time is bad."""
    entries = decoded.records
    payloads = [entry.protoPayload for entry in entries]
    principal: list[str | None] = []
    principal_type: list[str | None] = []
    source_ip: list[str | None] = []
    user_agent: list[str | None] = []
    outcome: list[str | None] = []
    error_code: list[str | None] = []
    requests: list[int] = []
    for i, (entry, proto) in enumerate(zip(entries, payloads, strict=True)):
        if proto is None:  # decode() kept only request logs without a payload
            request = entry.httpRequest
            assert request is not None
            error = http_error(request.status)
            requests.append(i)
            principal.append(None)
            principal_type.append(None)
            source_ip.append(request.remoteIp)
            user_agent.append(request.userAgent)
            outcome.append("failure" if error else "success")
            error_code.append(error)
            continue
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

    for row in rows_dropping(decoded, IDENTITY):
        principal[row] = principal_type[row] = None
    for row in rows_dropping(decoded, STATUS):
        outcome[row] = error_code[row] = None
    raw_action, service, resource = _api_columns(entries)
    action = col.map_distinct(raw_action, action_of, pa.string())
    if requests:
        is_request = np.zeros(len(entries), dtype=bool)
        is_request[requests] = True
        action = pc.if_else(pa.array(is_request), pa.scalar(INVOKE), action)
    category = col.categories(service, action)
    data_access = pa.array(
        [bool(e.logName) and "data_access" in e.logName for e in entries],  # type: ignore[operator]
        pa.bool_(),
    )
    times = col.parse_times([e.timestamp for e in entries])
    bad_time = col.null_rows(times, decoded.index)
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
        "resource": resource,
        "outcome": outcome,
        "error_code": error_code,
        "read_only": col.read_only_from(
            pa.nulls(len(entries), pa.bool_()), category, writes_excluded=data_access
        ),
        "mfa": pa.nulls(len(entries), pa.bool_()),
        "raw": decoded.raw_column(),
    }
    return col.table(columns, times), bad_time


def _api_columns(entries: list[LogEntry]) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(raw_action, service, resource): the audit payload's method, service and resource name,
    or for a request log its HTTP method, the serverless service and the service's name."""
    raw_action: list[str | None] = []
    service: list[str | None] = []
    resource: list[str | None] = []
    for entry in entries:
        proto = entry.protoPayload
        if proto is not None:
            raw_action.append(proto.methodName)
            service.append(proto.serviceName)
            resource.append(proto.resourceName)
        else:
            kind = entry.resource.type if entry.resource is not None else None
            request = entry.httpRequest
            raw_action.append(request.requestMethod if request is not None else None)
            service.append(REQUEST_LOG_SERVICES[kind][0] if kind in REQUEST_LOG_SERVICES else None)
            resource.append(request_resource(entry))
    return (
        pa.array(raw_action, pa.string()),
        pa.array(service, pa.string()),
        pa.array(resource, pa.string()),
    )
