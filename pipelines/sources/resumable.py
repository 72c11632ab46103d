"""The checkpoint side of sources: the caller confirms each blob once it is in the lake.

``Source.blobs`` only fetches. A source that can resume also implements ``mark_done``; the
ingest loop calls it after ``EventLake.append`` returned, so a checkpoint never runs ahead of
what is stored.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol, runtime_checkable

from pipelines.sources.base import BlobRef, Source


@runtime_checkable
class Resumable(Protocol):
    """A source that remembers, per URI, what it has delivered."""

    uri: str

    def mark_done(self, blob: BlobRef) -> None:
        """Record ``blob`` (one this source yielded) as durably processed."""
        ...


def mark_done(source: Source, blob: BlobRef) -> None:
    """Advance the checkpoint of ``source`` past ``blob`` when the source keeps one."""
    if isinstance(source, Resumable):
        source.mark_done(blob)


def as_utc(moment: datetime) -> datetime:
    """Naive times are taken as UTC (audit logs are in UTC); aware ones are converted."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def days_between(start: datetime, end: datetime) -> list[date]:
    """The UTC calendar days that ``[start, end)`` touches, in order."""
    first = as_utc(start).date()
    last = (as_utc(end) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
