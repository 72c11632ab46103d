"""A local Cloud Logging v2 REST endpoint: ``POST /v2/entries:list`` over stored LogEntries.

It applies the parts of the filter functrail sends (``timestamp>=``/``timestamp<``, the
``logName=(...)`` and ``protoPayload.serviceName=(...)`` lists), ``orderBy`` and paging with
``pageSize``/``pageToken``, and records every request body so tests can assert what the
real google-cloud-logging client sent.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tests.fakes._http import JsonServer

_BOUND = re.compile(r'timestamp\s*(>=|<)\s*"([^"]+)"')
_LIST = re.compile(r"(logName|protoPayload\.serviceName)=\(([^)]*)\)")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def matches(entry: dict[str, Any], query: str) -> bool:
    """Whether ``entry`` passes the supported parts of a Logging filter."""
    when = _time(entry["timestamp"])
    for op, bound in _BOUND.findall(query):
        if (op == ">=" and when < _time(bound)) or (op == "<" and when >= _time(bound)):
            return False
    for field, values in _LIST.findall(query):
        allowed = set(re.findall(r'"([^"]*)"', values))
        value = (
            entry.get("logName")
            if field == "logName"
            else entry.get("protoPayload", {}).get("serviceName")
        )
        if value not in allowed:
            return False
    return True


class GcpLoggingServer(JsonServer):
    """Serves ``entries`` (LogEntry dicts as the API returns them); ``requests`` records calls."""

    def __init__(self, entries: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.entries: list[dict[str, Any]] = list(entries or [])
        self.requests: list[dict[str, Any]] = []

    def handle(
        self, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        json = {"Content-Type": "application/json"}
        if path.split("?", 1)[0] != "/v2/entries:list":
            return 404, json, {"error": {"code": 404, "message": f"no route {path}"}}
        self.requests.append(body)
        query = body.get("filter", "")
        found = [entry for entry in self.entries if matches(entry, query)]
        descending = "desc" in body.get("orderBy", "timestamp asc")
        found.sort(key=lambda entry: _time(entry["timestamp"]), reverse=descending)
        offset = int(body.get("pageToken") or 0)
        size = int(body.get("pageSize") or 50)
        page = found[offset : offset + size]
        answer: dict[str, Any] = {"entries": page}
        if offset + size < len(found):
            answer["nextPageToken"] = str(offset + size)
        return 200, json, answer
