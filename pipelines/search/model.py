"""What a search asks for and what it answers: the filter, the sort position, the page."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import pyarrow as pa

MAX_SPAN: Final = timedelta(days=31)
"""The widest window one search may cover (a month of partitions)."""
EQUALITY_FIELDS: Final = (
    "account",
    "principal",
    "principal_type",
    "service",
    "action",
    "raw_action",
    "resource",
    "outcome",
    "error_code",
)
"""Event columns filtered by exact value."""
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class EventFilter:
    """What a search matches: ``since <= time < until`` and every filter given (None: any).

    ``source_ip`` matches addresses inside the network (an address is a /32 or /128);
    ``user_agent`` matches a substring, ignoring case.
    """

    since: datetime
    until: datetime
    provider: str | None = None
    account: str | None = None
    principal: str | None = None
    principal_type: str | None = None
    service: str | None = None
    action: str | None = None
    raw_action: str | None = None
    resource: str | None = None
    outcome: str | None = None
    error_code: str | None = None
    source_ip: Network | None = None
    user_agent: str | None = None

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ValueError("since and until must be timezone-aware")
        if self.until - self.since > MAX_SPAN:
            raise ValueError(f"the window is over {MAX_SPAN.days} days")

    def equalities(self) -> dict[str, str]:
        """The equality filters that are set, by column."""
        values = {name: getattr(self, name) for name in EQUALITY_FIELDS}
        return {name: value for name, value in values.items() if value is not None}

    def columns(self) -> list[str]:
        """The columns the filters read (besides ``time``)."""
        named = [*self.equalities()]
        if self.source_ip is not None:
            named.append("source_ip")
        if self.user_agent is not None:
            named.append("user_agent")
        return named


@dataclass(frozen=True, order=True)
class Position:
    """The sort key of an event: where a page ended, and the next one starts (exclusive)."""

    micros: int
    """``time`` in microseconds since the epoch (UTC)"""
    id: str
    provider: str


@dataclass(frozen=True)
class EventPage:
    events: pa.Table
    """the page, newest first: the event columns (``raw`` only when asked), provider included"""
    next: Position | None
    """where the next page starts; None when this one is the last"""


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch (a time without a zone is taken as UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = aware.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
