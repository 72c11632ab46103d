"""Field names as users write them in Sigma -> what the engine reads.

SigmaHQ's cloud rules name fields as the provider logs them (``eventSource``,
``requestParameters.bucketName``, ``protoPayload.methodName``), as an exporter nests them
(``data.protoPayload.*``) or by Sigma's ``gcp.audit.*`` taxonomy. ``resolve`` turns each into
the names ``BatchContext`` reads, so a rule never silently reads a path that is never there:

- where the raw value is exactly an event-model column on the provider's rows (the normalizer
  copies it unchanged), an **alias**: the column masked to those rows. Aliases are columns, so
  the column-only prefilter decides them and ``eventSource: lambda.amazonaws.com`` costs no
  JSON parsing;
- ``eventName`` is the logged name and the name without its API-version suffix
  (``CreateFunctionUrlConfig20211031`` and ``CreateFunctionUrlConfig``), both columns;
- **derived** fields read the raw record like a path, but compute what a path cannot say:
  the permissions Google granted (``gcp.audit.method_name`` matches those too) and a
  ``logName`` with its log id (``cloudaudit.googleapis.com/activity``);
- anything else is a dotted path into the raw record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import unquote

RowScope = Literal["aws", "gcp", "gcp_audit"]
"""Rows a provider-specific field exists on: CloudTrail events, Google Cloud events, or Cloud
Audit Logs entries only (a Cloud Run / Cloud Functions request log has no ``protoPayload``)."""


@dataclass(frozen=True, slots=True)
class Alias:
    """A raw field the normalizer copies unchanged into ``columns[0]`` on ``rows``.

    Further columns are alternative spellings of the same value that also match
    (``eventName``: the logged name, then the name without its API-version suffix).
    """

    columns: tuple[str, ...]
    rows: RowScope


ALIASES: Final[dict[str, Alias]] = {
    # CloudTrail (pipelines/normalize/aws.py copies these fields as logged)
    "eventSource": Alias(("service",), "aws"),
    "eventName": Alias(("raw_action", "action"), "aws"),
    "awsRegion": Alias(("region",), "aws"),
    "sourceIPAddress": Alias(("source_ip",), "aws"),
    "userAgent": Alias(("user_agent",), "aws"),
    "errorCode": Alias(("error_code",), "aws"),
    "eventID": Alias(("id",), "aws"),
    # Cloud Audit Logs (pipelines/normalize/gcp.py)
    "protoPayload.serviceName": Alias(("service",), "gcp_audit"),
    "protoPayload.methodName": Alias(("raw_action",), "gcp_audit"),
    "protoPayload.resourceName": Alias(("resource",), "gcp_audit"),
    "protoPayload.requestMetadata.callerIp": Alias(("source_ip",), "gcp_audit"),
    "protoPayload.requestMetadata.callerSuppliedUserAgent": Alias(("user_agent",), "gcp_audit"),
    "insertId": Alias(("id",), "gcp"),
}

GRANTED_PERMISSIONS: Final = "functrail:granted_permissions"
"""Derived: ``protoPayload.authorizationInfo[].permission`` where ``granted`` is true."""
LOG_NAME: Final = "functrail:log_name"
"""Derived: ``logName`` as logged, its log id, and the log id URL-decoded."""
KEYWORDS: Final = "functrail:raw_text"
"""The whole raw record as logged (JSON text): what Sigma keyword searches look in."""

INTERNAL_PREFIX: Final = "functrail:"
"""Names the engine reads that no rule can write (derived fields, keyword text)."""

LOG_ENTRY_FIELDS: Final = frozenset(
    {
        "logName",
        "resource",
        "timestamp",
        "receiveTimestamp",
        "severity",
        "insertId",
        "labels",
        "operation",
        "httpRequest",
        "trace",
        "spanId",
        "sourceLocation",
        "split",
    }
)
"""LogEntry fields beside ``protoPayload``: ``data.protoPayload.logName`` (as SigmaHQ writes
it) is the entry's ``logName``."""


@dataclass(frozen=True, slots=True)
class Derived:
    """A field computed from the values at one raw path (read like any raw path)."""

    path: str
    compute: Callable[[list[Any]], list[Any]]


def _granted_permissions(checks: list[Any]) -> list[Any]:
    return [
        check["permission"]
        for check in checks
        if isinstance(check, dict)
        and check.get("granted") in (True, "true")
        and isinstance(check.get("permission"), str)
    ]


def _log_names(names: list[Any]) -> list[Any]:
    out: list[Any] = []
    for name in names:
        if isinstance(name, str):
            log_id = name.rsplit("/logs/", 1)[1] if "/logs/" in name else name
            out.extend(dict.fromkeys([name, log_id, unquote(log_id)]))
    return out


DERIVED: Final[dict[str, Derived]] = {
    GRANTED_PERMISSIONS: Derived("protoPayload.authorizationInfo", _granted_permissions),
    LOG_NAME: Derived("logName", _log_names),
}


def _camel(snake: str) -> str:
    """``caller_supplied_user_agent`` -> ``callerSuppliedUserAgent`` (Elastic's gcp.audit.*
    names are the AuditLog's, snake-cased)."""
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def resolve(name: str) -> tuple[str, ...]:
    """The names to read for a field as a rule writes it; several mean any of them.

    >>> resolve("data.protoPayload.logName")
    ('protoPayload.logName', 'functrail:log_name')
    >>> resolve("gcp.audit.method_name")
    ('protoPayload.methodName', 'functrail:granted_permissions')
    """
    if name.startswith("data.protoPayload."):
        inner = name[len("data.") :]
        beside = name[len("data.protoPayload.") :]
        if beside.split(".", 1)[0] in LOG_ENTRY_FIELDS:
            return tuple(dict.fromkeys([*resolve(inner), *resolve(beside)]))
        return resolve(inner)
    if name.startswith("gcp.audit."):
        rest = name[len("gcp.audit.") :]
        if rest == "method_name":
            return ("protoPayload.methodName", GRANTED_PERMISSIONS)
        if rest == "type":
            return ("protoPayload.@type",)
        return resolve("protoPayload." + ".".join(_camel(p) for p in rest.split(".")))
    if name == "logName":
        return (LOG_NAME,)
    return (name,)
