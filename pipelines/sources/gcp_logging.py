"""Google Cloud audit and request logs through the Cloud Logging API (``gcp-logging://PROJECT``).

The filter asks only for the four audit logs of the serverless-relevant services, and for the
Cloud Run request log (every HTTP request to a Cloud Run service or a 2nd gen Cloud Function:
the only record of who invoked what, since invocations write no audit entry unless data access
logging is on), by time, oldest first, so the checkpoint can be a position: the timestamp of
the last stored entry.
Entries can reach Logging a little late, and several can share a timestamp, so a resumed run
re-reads ``overlap`` before that position and skips the insertIds the checkpoint remembers
for that stretch; only entries it has not stored come through.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from google.auth.credentials import AnonymousCredentials
from google.cloud.logging import ASCENDING, Client

from pipelines.checkpoints import Checkpoint
from pipelines.settings import Settings
from pipelines.sources.base import Blob, BlobRef
from pipelines.sources.resumable import as_utc

AUDIT_LOGS = ("activity", "data_access", "system_event", "policy")
REQUEST_LOG = "run.googleapis.com%2Frequests"
SERVICES = (
    "cloudfunctions.googleapis.com",
    "run.googleapis.com",
    "iam.googleapis.com",
    "secretmanager.googleapis.com",
    "logging.googleapis.com",
    "cloudresourcemanager.googleapis.com",
)


def rfc3339(moment: datetime) -> str:
    """UTC time as the Logging filter language expects it."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log_filter(
    project: str, start: datetime, end: datetime, services: Sequence[str] = SERVICES
) -> str:
    """The Logging query for ``[start, end)``: the audit entries of ``services`` and the Cloud
    Run request log. Fully parenthesized: in this query language OR binds tighter than AND."""
    logs = " OR ".join(
        f'"projects/{project}/logs/cloudaudit.googleapis.com%2F{log}"' for log in AUDIT_LOGS
    )
    names = " OR ".join(f'"{service}"' for service in services)
    audit = f"(logName=({logs}) AND protoPayload.serviceName=({names}))"
    requests = f'logName=("projects/{project}/logs/{REQUEST_LOG}")'
    return (
        f'({audit} OR {requests}) AND timestamp>="{rfc3339(start)}" AND timestamp<"{rfc3339(end)}"'
    )


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
        services: Sequence[str] = SERVICES,
        overlap: timedelta = timedelta(minutes=5),
        client: Client | None = None,
    ) -> None:
        """With ``endpoint_url`` (a test or private endpoint) the client sends no credentials."""
        if not uri.startswith("gcp-logging://"):
            raise ValueError(f"not a gcp-logging:// URI: {uri}")
        project = uri[len("gcp-logging://") :].strip("/")
        if not project or "/" in project:
            raise ValueError(f"gcp-logging URI needs exactly one project id: {uri}")
        self.uri = uri
        self.project = project
        self.page_size = page_size
        self.batch_size = batch_size
        self.services = tuple(services)
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
        self.checkpoint = Checkpoint(settings.checkpoints_dir, uri, ignore_saved=full)
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
