"""A local CloudTrail endpoint speaking the JSON 1.1 protocol, for ``LookupEvents`` only.

moto (5.2) does not implement LookupEvents, so this serves stored events the way the API
does: ``StartTime``/``EndTime`` (epoch seconds, inclusive), newest first, ``MaxResults``
pages with ``NextToken``. ``throttle_first`` answers that many requests with a
ThrottlingException to exercise botocore's retries; request times are recorded.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import orjson

from tests.fakes._http import JsonServer

TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"


def lookup_event(record: dict[str, Any]) -> dict[str, Any]:
    """The LookupEvents shape of a CloudTrail record (``CloudTrailEvent`` is the JSON text)."""
    when = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
    return {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": str(record.get("readOnly", False)).lower(),
        "EventTime": when.timestamp(),
        "EventSource": record["eventSource"],
        "Username": record.get("userIdentity", {}).get("userName", ""),
        "Resources": [],
        "CloudTrailEvent": orjson.dumps(record).decode(),
    }


class CloudTrailServer(JsonServer):
    """Serves CloudTrail ``records`` through LookupEvents."""

    def __init__(self, records: list[dict[str, Any]] | None = None, throttle_first: int = 0):
        super().__init__()
        self.events = [lookup_event(record) for record in records or []]
        self.throttle_first = throttle_first
        self.requests: list[dict[str, Any]] = []
        self.times: list[float] = []

    def handle(
        self, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        kind = {"Content-Type": "application/x-amz-json-1.1"}
        self.times.append(time.monotonic())
        if headers.get("X-Amz-Target") != TARGET:
            return (
                400,
                kind,
                {"__type": "UnknownOperationException", "message": "LookupEvents only"},
            )
        if self.throttle_first > 0:
            self.throttle_first -= 1
            return 400, kind, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        self.requests.append(body)
        low = float(body.get("StartTime", 0))
        high = float(body.get("EndTime", 2**40))
        found = [event for event in self.events if low <= event["EventTime"] <= high]
        found.sort(key=lambda event: event["EventTime"], reverse=True)
        size = int(body.get("MaxResults") or 50)
        if size > 50:
            return 400, kind, {"__type": "InvalidMaxResultsException", "message": "max 50"}
        offset = int(body.get("NextToken") or 0)
        answer: dict[str, Any] = {"Events": found[offset : offset + size]}
        if offset + size < len(found):
            answer["NextToken"] = str(offset + size)
        return 200, kind, answer
