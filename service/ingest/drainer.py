"""The push writer inside ``functrail serve``: moves pushed records from the log to the lake.

Every API process runs one; each tick (every ``push_drain_seconds``, 1 s, or as soon as
``push_drain_records``, 10,000, were pushed to its own process) it takes the data folder's
``WriterLease`` if it can, drains, and lets it go again: another worker takes over within a
second when one dies, and a ``functrail watch`` on the same folder takes the lease and keeps
it (it drains and detects the pushes; the drainers then find the lease held and idle). A
batch's conflicts are stored as alerts before the log lets go of it; a failed batch stays in
the log and is tried again next tick.
"""

from __future__ import annotations

import logging
import threading
import time

from pipelines.provenance import Stored
from pipelines.pushlog import Pending, PushLog
from pipelines.settings import Settings
from pipelines.writer import LakeWriter, WriterLease, drain_once
from service.api.metrics import Metrics
from service.db import Database
from service.ingest.conflicts import store_conflicts

log = logging.getLogger("functrail.ingest")

BACKOFF_SECONDS = 1.0


class PushDrainer:
    """A thread that drains the push log into the lake while this process holds the lease."""

    def __init__(
        self, settings: Settings, db: Database, pushlog: PushLog, metrics: Metrics | None = None
    ) -> None:
        self.settings, self.db, self.pushlog, self.metrics = settings, db, pushlog, metrics
        self.interval = settings.push_drain_seconds
        self.batch = settings.push_drain_records
        self.lease = WriterLease(settings.home)
        self._writer: LakeWriter | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._since = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="functrail-push", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after one last drain (what this process holds the lease for is stored)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.lease.release()

    def appended(self, rows: int) -> None:
        """Count records just pushed to this process; enough of them wake the writer early."""
        self._since += rows
        if self._since >= self.batch:
            self._wake.set()

    def drain_now(self) -> int:
        """Drain everything waiting, if this process can hold the lease; rows moved."""
        moved = 0
        while (done := self._drain_one()) is not None:
            moved += done.rows
        return moved

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            stopping = self._stopping.is_set()
            try:
                self.drain_now()
            except Exception:
                log.exception("push writer: a batch failed; it stays in the log and is retried")
                if not stopping:
                    self._stopping.wait(BACKOFF_SECONDS)
            finally:
                self._let_go()
            if stopping:
                return

    def _let_go(self) -> None:
        """Release the lease between ticks: a ``functrail watch`` on the same data folder takes
        it and keeps it (it drains the pushes and detects them), and this drainer then idles."""
        with self._lock:
            self.lease.release()

    def _drain_one(self) -> Pending | None:
        with self._lock:
            if not self.lease.acquire():
                if self.metrics is not None:
                    self.metrics.writer.set(0)
                return None
            if self.metrics is not None:
                self.metrics.writer.set(1)
            self._since = 0
            if self._writer is None:
                self._writer = LakeWriter(self.settings)
            done = drain_once(self.pushlog, self._writer, self._stored, max_rows=self.batch)
            return None if done is None else done[1]

    def _stored(self, stored: Stored, pending: Pending) -> None:
        """Before the log lets go of a batch: its conflicts become alerts, its counts metrics."""
        if stored.conflicts:
            with self.db.session() as session:
                store_conflicts(session, stored.conflicts)
        if self.metrics is not None:
            self.metrics.lake_records.labels("written").inc(stored.count)
            self.metrics.lake_records.labels("duplicate").inc(stored.duplicates)
            self.metrics.conflicts.inc(len(stored.conflicts))
            if pending.oldest is not None:
                self.metrics.push_lag.set(max(0.0, time.time() - pending.oldest))
