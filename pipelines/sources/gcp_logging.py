"""Google Cloud audit and request logs through the Cloud Logging API (``gcp-logging://PROJECT``).

The filter asks for every entry of the project's four Cloud Audit Logs (Admin Activity, Data
Access, System Event, Policy Denied), whatever the service: the control plane around a function
is IAM, iamcredentials, STS, Storage, Cloud Build, Compute, Service Usage as much as Functions
and Run, and a rule can only see what was pulled. ``?services=a.googleapis.com,b...`` on the URI
narrows the audit entries to those services. It also asks for the Cloud Run request log (every
HTTP request to a Cloud Run service or a 2nd gen Cloud Function: the only record of who invoked
what, since invocations write no audit entry unless data access logging is on), whatever the
allow-list. Entries come by time, oldest first, so the checkpoint can be a position: the
timestamp of the last stored entry.
Entries can reach Logging a little late, and several can share a timestamp, so a resumed run
re-reads ``overlap`` before that position and skips the insertIds the checkpoint remembers
for that stretch; only entries it has not stored come through.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import orjson
from google.auth.credentials import AnonymousCredentials
from google.cloud.logging import ASCENDING, Client

from pipelines.checkpoints import Checkpoint
from pipelines.settings import Settings
from pipelines.sources.base import Blob, BlobRef
from pipelines.sources.resumable import as_utc

AUDIT_LOGS = ("activity", "data_access", "system_event", "policy")
REQUEST_LOG = "run.googleapis.com%2Frequests"
PROJECT_ID: Final = re.compile(r"^[a-z][a-z0-9.:-]*[a-z0-9]$")
"""A project id (``my-proj``, domain-scoped ``example.com:my-proj``): it goes into the filter."""
SERVICE_NAME: Final = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$")
"""An API service name (``iamcredentials.googleapis.com``): it goes inside quotes in a filter,
so nothing else may pass."""


def parse_services(value: str) -> tuple[str, ...]:
    """``a.googleapis.com,b.googleapis.com`` -> names, sorted and unique; ValueError otherwise."""
    names = sorted({part.strip() for part in value.split(",") if part.strip()})
    bad = [name for name in names if not SERVICE_NAME.match(name)]
    if bad or not names:
        raise ValueError(
            f"services must be API service names such as iam.googleapis.com, got {value!r}"
        )
    return tuple(names)


def rfc3339(moment: datetime) -> str:
    """UTC time as the Logging filter language expects it."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log_filter(
    project: str, start: datetime, end: datetime, services: Sequence[str] | None = None
) -> str:
    """The Logging query for ``[start, end)``: every audit entry (of ``services`` only, when
    given) and the Cloud Run request log. Fully parenthesized: in this query language OR binds
    tighter than AND."""
    logs = f'"projects/{project}/logs'
    audit_logs = [f'{logs}/cloudaudit.googleapis.com%2F{log}"' for log in AUDIT_LOGS]
    request_log = f'{logs}/{REQUEST_LOG}"'
    span = f'timestamp>="{rfc3339(start)}" AND timestamp<"{rfc3339(end)}"'
    if not services:
        return f"logName=({' OR '.join([*audit_logs, request_log])}) AND {span}"
    names = " OR ".join(f'"{service}"' for service in services)
    audit = f"(logName=({' OR '.join(audit_logs)}) AND protoPayload.serviceName=({names}))"
    return f"({audit} OR logName=({request_log})) AND {span}"


@dataclass(frozen=True, slots=True)
class _Position:
    timestamp: str
    entries: tuple[tuple[str, str], ...]
    """(insertId, timestamp) of each entry in the blob."""


class GcpLoggingSource:
    """Audit and request entries of one project; each blob holds up to ``batch_size`` LogEntry
    JSON lines."""

    def __init__(
        self,
        uri: str,
        settings: Settings,
        *,
        full: bool = False,
        endpoint_url: str | None = None,
        page_size: int = 1000,
        batch_size: int = 1000,
        services: Sequence[str] | None = None,
        overlap: timedelta = timedelta(minutes=5),
        client: Client | None = None,
    ) -> None:
        """With ``endpoint_url`` (a test or private endpoint) the client sends no credentials.

        ``services``: the audit entries of these services only (None: all). A narrowed source
        keeps its own checkpoint (the URI with ``?services=...``), so widening it later reads
        the range again instead of resuming past what it never asked for.
        """
        if not uri.startswith("gcp-logging://"):
            raise ValueError(f"not a gcp-logging:// URI: {uri}")
        project = uri[len("gcp-logging://") :].strip("/")
        if not project or "/" in project:
            raise ValueError(f"gcp-logging URI needs exactly one project id: {uri}")
        if not PROJECT_ID.match(project):
            raise ValueError(f"not a Google Cloud project id: {project!r}")
        self.services = parse_services(",".join(services)) if services else None
        self.uri = f"{uri}?services={','.join(self.services)}" if self.services else uri
        self.project = project
        self.page_size = page_size
        self.batch_size = batch_size
        self.overlap = overlap
        if client is None:
            options: dict[str, Any] = {}
            if endpoint_url:
                options = {
                    "credentials": AnonymousCredentials(),
                    "client_options": {"api_endpoint": endpoint_url},
                }
            client = Client(project=project, _use_grpc=False, **options)
        self.client = client
        self.checkpoint = Checkpoint(settings.checkpoints_dir, self.uri, ignore_saved=full)
        self._pending: dict[str, _Position] = {}
        self.last_filter: str | None = None

    def blobs(self, start: datetime, end: datetime) -> Iterator[Blob]:
        """Entries in ``[start, end)`` after the checkpoint, oldest first, in JSON-lines blobs."""
        start, end = as_utc(start), as_utc(end)
        saved_at = self.checkpoint.state.get("timestamp")
        if saved_at:
            start = max(start, datetime.fromisoformat(saved_at) - self.overlap)
        recent: dict[str, str] = self.checkpoint.state.get("recent", {})
        if start >= end:
            return
        self.last_filter = log_filter(self.project, start, end, self.services)
        entries = self.client.list_entries(
            resource_names=[f"projects/{self.project}"],
            filter_=self.last_filter,
            order_by=ASCENDING,
            page_size=self.page_size,
        )
        lines: list[bytes] = []
        seen: list[tuple[str, str]] = []
        number = 0
        for entry in entries:
            record = entry.to_api_repr()
            insert_id = str(record.get("insertId", ""))
            timestamp = _timestamp(entry.timestamp)
            if recent.get(insert_id) == timestamp:
                continue
            lines.append(orjson.dumps(record) + b"\n")
            seen.append((insert_id, timestamp))
            if len(lines) >= self.batch_size:
                yield self._blob(lines, number, seen)
                lines, seen, number = [], [], number + 1
        if lines:
            yield self._blob(lines, number, seen)

    def _blob(self, lines: list[bytes], number: int, seen: list[tuple[str, str]]) -> Blob:
        last = max(timestamp for _, timestamp in seen)
        name = f"{self.uri}#batch{number}@{last}"
        self._pending[name] = _Position(last, tuple(seen))
        return Blob(name=name, data=b"".join(lines))

    def mark_done(self, blob: BlobRef) -> None:
        """Move the checkpoint to the blob's last entry; remember ids within ``overlap`` of it."""
        position = self._pending.pop(blob.name, None)
        if position is None or not position.timestamp:
            return
        state = self.checkpoint.state
        latest = max(position.timestamp, state.get("timestamp", ""))
        cutoff = _timestamp(datetime.fromisoformat(latest) - self.overlap)
        recent = {**state.get("recent", {}), **dict(position.entries)}
        state["timestamp"] = latest
        state["recent"] = {key: ts for key, ts in recent.items() if ts >= cutoff}
        self.checkpoint.save()


def _timestamp(value: datetime | None) -> str:
    """Fixed-width ISO 8601, so checkpoint positions compare as strings."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00") if value is not None else ""
