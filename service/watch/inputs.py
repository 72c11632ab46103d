"""What a watcher polls: each source URI as an input that lists its new blobs and, once their
batch is stored and detected, lets them go (moves its checkpoint, deletes its queue messages).

The sources are ``pipelines.sources``' own, asked for a range that keeps up with the clock:

- local paths and globs: ``WatchedFiles`` (new or changed files);
- ``s3://``: the trail's day folders of yesterday through tomorrow, less the files the
  checkpoint holds (late deliveries into yesterday's folder are still seen);
- ``sqs://``: S3 event notifications (``SqsSource``), deleted after their objects are stored;
- ``cloudtrail://`` and ``gcp-logging://``: from their checkpoint (first run: the last
  ``FIRST_LOOKBACK``) to now; LookupEvents keeps its settle delay.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pipelines.settings import Settings
from pipelines.sources import (
    BlobRef,
    Source,
    UnknownSource,
    blob_refs,
    mark_done,
    open_source,
)

FIRST_LOOKBACK = timedelta(hours=1)
"""How far back an API source with no checkpoint starts (``functrail ingest`` fills history)."""
CHECKPOINTED_LOOKBACK = timedelta(days=90)
"""The earliest start asked of a source with a checkpoint: it starts at its checkpoint."""


class WatchInput(Protocol):
    """One watched source."""

    @property
    def uri(self) -> str: ...

    def poll(self, budget: Budget) -> list[tuple[BlobRef, float]]:
        """New blobs and when each arrived (seconds since the epoch), not yet let go, oldest
        first, as many as ``budget`` allows (the rest come next batch)."""
        ...

    def done(self, refs: list[BlobRef]) -> None:
        """The batch holding ``refs`` is stored and detected: never yield them again."""
        ...


Span = Callable[[Source], tuple[datetime, datetime]]


@dataclass
class Budget:
    """What one micro-batch may still take: a backlog (a watcher that was down, a burst) is
    worked off in batches of this size instead of one that holds it all in memory."""

    blobs: int
    bytes: int
    exhausted: bool = False
    """set when an input stopped because of it: the next batch should start at once"""

    def take(self, ref: BlobRef) -> bool:
        """Count ``ref`` in; False (and ``exhausted``) once the batch is full (it always takes
        a first blob, whatever its size)."""
        if self.blobs <= 0 or self.bytes <= 0:
            self.exhausted = True
            return False
        self.blobs -= 1
        self.bytes -= max(0, ref.size)
        return True


@dataclass
class SourceInput:
    """A ``pipelines.sources`` source polled over a range that follows the clock."""

    source: Source
    span: Span
    first_seen: dict[str, float] = field(default_factory=dict)
    """blob name -> when a poll first listed it (the arrival of sources that do not say)"""

    @property
    def uri(self) -> str:
        return self.source.uri

    def poll(self, budget: Budget) -> list[tuple[BlobRef, float]]:
        start, end = self.span(self.source)
        now = time.time()
        arrived = getattr(self.source, "arrived", None)
        found: list[tuple[BlobRef, float]] = []
        for ref in blob_refs(self.source, start, end):
            if not budget.take(ref):
                break
            when = arrived(ref) if arrived is not None else None
            if when is None:
                when = self.first_seen.setdefault(ref.name, now)
            found.append((ref, when))
        return found

    def done(self, refs: list[BlobRef]) -> None:
        for ref in refs:
            mark_done(self.source, ref)
            self.first_seen.pop(ref.name, None)
        save = getattr(self.source, "save", None)
        if save is not None:
            save()


def open_input(uri: str, settings: Settings, *, settle: float = 0.0) -> WatchInput:
    """The watched input for a source URI (``UnknownSource`` for one functrail cannot read)."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme in ("", "file"):
        from pipelines.sources.watched import WatchedFiles

        path = uri[len("file://") :] if scheme == "file" else uri
        return SourceInput(WatchedFiles([path], settings, settle=settle), _unbounded)
    if scheme == "sqs":
        from pipelines.sources.sqs import open_sqs

        try:
            return SourceInput(open_sqs(uri, settings), _unbounded)
        except ValueError as exc:
            raise UnknownSource(str(exc)) from exc
    source = open_source(uri, settings)
    if scheme == "s3":
        return SourceInput(source, _trail_days)
    return SourceInput(source, _since_checkpoint)


def _unbounded(_source: Source) -> tuple[datetime, datetime]:
    return datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


def _trail_days(_source: Source) -> tuple[datetime, datetime]:
    """Yesterday through tomorrow (UTC days): a trail's late files land in yesterday's folder
    until a few minutes past midnight, and a clock a little ahead writes into tomorrow's."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1), today + timedelta(days=2)


def _since_checkpoint(source: Source) -> tuple[datetime, datetime]:
    """From the checkpoint (the source raises an early start to it; LookupEvents keeps 90
    days) or, on a first run, the last ``FIRST_LOOKBACK``; up to now."""
    now = datetime.now(UTC)
    checkpoint = getattr(source, "checkpoint", None)
    saved = checkpoint is not None and bool(checkpoint.state)
    return now - (CHECKPOINTED_LOOKBACK if saved else FIRST_LOOKBACK), now
