"""Event search for the API and the CLI: a validated query in, a page of events out.

``GET /v1/events`` and ``functrail events search`` share these functions, so both apply the
same window defaults and limits and give the same 422-style errors (``SearchRejected`` names
the parameter at fault). The scan itself is ``pipelines.search``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
import pyarrow as pa

from pipelines.events import PROVIDERS
from pipelines.lake import EventLake
from pipelines.search import MAX_SPAN, EventFilter, EventPage, Position, search_events
from service.events.schemas import EventQuery
from service.fields import EARLIEST, LATEST
from service.query import BadCursor

DEFAULT_WINDOW: Final = timedelta(hours=24)
_CURSOR_TAG: Final = "ev1"
_MAX_CURSOR_ID: Final = 2048
_EARLIEST_MICROS: Final = 0
_LATEST_MICROS: Final = int((LATEST - EARLIEST).total_seconds()) * 1_000_000


class SearchRejected(ValueError):
    """A query that is well-formed field by field but not as a whole (the window)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


def event_filter(query: EventQuery, now: datetime | None = None) -> EventFilter:
    """The lake filter of a query: the window defaulted (the last 24 h) and checked."""
    until = query.until or (
        query.since + DEFAULT_WINDOW if query.since is not None else now or datetime.now(UTC)
    )
    since = query.since or until - DEFAULT_WINDOW
    if until <= since:
        raise SearchRejected("until", "until must be after since")
    if until - since > MAX_SPAN:
        raise SearchRejected("since", f"since..until spans more than {MAX_SPAN.days} days")
    network = ipaddress.ip_network(query.source_ip, strict=False) if query.source_ip else None
    return EventFilter(
        since=since,
        until=until,
        provider=query.provider,
        account=query.account,
        principal=query.principal,
        principal_type=query.principal_type,
        service=query.service,
        action=query.action,
        raw_action=query.raw_action,
        resource=query.resource,
        outcome=query.outcome,
        error_code=query.error_code,
        source_ip=network,
        user_agent=query.user_agent,
    )


def search(lake: EventLake, query: EventQuery, now: datetime | None = None) -> EventPage:
    """One page of the query's events (SearchRejected, BadCursor for bad input)."""
    flt = event_filter(query, now)
    after = decode_cursor(query.cursor) if query.cursor else None
    return search_events(lake, flt, limit=query.limit, after=after, include_raw=query.include_raw)


def page_json(page: EventPage) -> bytes:
    """``{"items": [...], "next_cursor": ...}``; each ``raw`` as the JSON object it was."""
    cursor = encode_cursor(page.next) if page.next is not None else None
    return orjson.dumps(
        {"items": event_items(page.events), "next_cursor": cursor}, option=orjson.OPT_UTC_Z
    )


def event_items(events: pa.Table) -> list[dict[str, Any]]:
    """The page's events as JSON-ready dicts (times stay datetimes for orjson)."""
    items = events.to_pylist()
    if "raw" in events.column_names:
        for item in items:
            item["raw"] = _record(item["raw"])
    return items


def _record(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw  # not JSON after all: the text as stored, never interpreted


def encode_cursor(position: Position) -> str:
    """Opaque text for the sort key of a page's last event."""
    payload = orjson.dumps([_CURSOR_TAG, position.micros, position.id, position.provider])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position inside a cursor; BadCursor for anything this service did not hand out."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise BadCursor("cursor is not one this service handed out") from None
    if not (isinstance(values, list) and len(values) == 4 and values[0] == _CURSOR_TAG):
        raise BadCursor("cursor is not one this service handed out")
    _, micros, event_id, provider = values
    if (
        not isinstance(micros, int)
        or isinstance(micros, bool)
        or not _EARLIEST_MICROS <= micros < _LATEST_MICROS
        or not isinstance(event_id, str)
        or len(event_id) > _MAX_CURSOR_ID
        or provider not in PROVIDERS
    ):
        raise BadCursor("cursor is not one this service handed out")
    return Position(micros, event_id, provider)
