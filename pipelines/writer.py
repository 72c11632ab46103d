"""The data folder's one writer: what moves pushed records (and, with ``functrail watch``, each
micro-batch) into the lake in batches. See docs/ingest-writer.md.

- ``WriterLease``: an ``flock`` on ``<home>/writer.lock``. Only its holder drains the push log
  or runs a watcher's micro-batches; ``functrail serve --workers N`` starts a drainer in every
  worker and the one that gets the lease writes (another takes over within a second if that
  process dies). The lake's own lock (``<lake>/_writer.lock``) still serializes each store
  with the score job and ``functrail ingest``.
- ``LakeWriter.store``: the lake's store (dedup, provenance, conflicts) plus the merging of the
  small files frequent batches leave, so a day stays a few files.
- ``drain_once``: one batch from the push log: store it, hand the result to ``on_stored``
  (alerts for conflicts; the watcher's detection), then let the log go of it. Nothing is let go
  before it is stored and handed on, so a crash anywhere repeats work, never loses it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.events import EVENT_SCHEMA
from pipelines.lake import EventLake
from pipelines.private import private_dir
from pipelines.provenance import Stored
from pipelines.pushlog import Pending, PushLog
from pipelines.settings import Settings

LEASE_FILE: Final = "writer.lock"
PUSHLOG_DIR: Final = "pushlog"


def push_log(settings: Settings) -> PushLog:
    """The data folder's push log."""
    return PushLog(settings.home / PUSHLOG_DIR)


class WriterLease:
    """The right to be the data folder's one writer, held until ``release`` or process exit."""

    def __init__(self, home: Path) -> None:
        self.path = home / LEASE_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lease if no other process holds it; True when this one does (now or before)."""
        if self._fd is not None:
            return True
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


class LakeWriter:
    """Stores batches in the lake the way every frequent writer must: provenance, then the
    small files merged."""

    def __init__(self, settings: Settings, lake: EventLake | None = None) -> None:
        self.lake = lake or EventLake(settings.lake_root)

    def store(self, events: pa.Table) -> Stored:
        """Store ``events`` (event schema); durable on return (local lakes fsync)."""
        if not events.num_rows:
            return Stored(EVENT_SCHEMA.empty_table())
        stored = self.lake.store(events)
        for provider, day in _partitions(stored.written):
            self.lake.compact_small(provider, day)
        return stored


def drain_once(
    log: PushLog,
    writer: LakeWriter,
    on_stored: Callable[[Stored, Pending], None] | None = None,
    *,
    max_rows: int = 50_000,
) -> tuple[Stored, Pending] | None:
    """Move one batch of pushed records into the lake; None when none waited.

    The caller holds the ``WriterLease``. ``on_stored`` runs after the lake write and before
    the log lets go of the records: store conflict alerts there (a watcher: detect).
    """
    pending = log.pending(max_rows)
    if pending is None:
        return None
    stored = writer.store(pending.events)
    if on_stored is not None:
        on_stored(stored, pending)
    log.commit(pending)
    return stored, pending


def _partitions(events: pa.Table) -> list[tuple[str, date]]:
    if not events.num_rows:
        return []
    days = pc.cast(events["time"], pa.date32())
    keys = pa.table({"provider": events["provider"], "date": days}).group_by(["provider", "date"])
    found = keys.aggregate([])
    return list(zip(found["provider"].to_pylist(), found["date"].to_pylist(), strict=True))
