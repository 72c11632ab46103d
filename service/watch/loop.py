"""The watcher's loop: a micro-batch every interval while this process holds the data folder's
writer lease, until asked to stop; the batch in hand always finishes first.

It runs as ``functrail watch`` (the CLI's thread, stopped by SIGTERM / SIGINT) or inside
``functrail serve`` when ``FUNCTRAIL_WATCH_SOURCES`` is set (a thread beside the API, which
then leaves the push log to it). ``status`` is what ``/metrics`` and ``/readyz`` read: per
input, when it was last polled without error and the lag of its last records.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from detectors.rules.stream import window_of
from pipelines.lake import EventLake
from pipelines.settings import Settings
from pipelines.writer import WriterLease, push_log
from service.db import Database
from service.rules.store import rule_states
from service.scoring.detect import rule_registry
from service.watch import DEFAULT_INTERVAL
from service.watch.batch import PUSHES, BatchReport, BatchRunner
from service.watch.inputs import open_input

log = logging.getLogger("functrail.watch")

BACKOFF_SECONDS = 5.0
STALE_INTERVALS = 3
"""An input not polled successfully for this many intervals (and at least a minute) is stale."""


@dataclass
class InputStatus:
    """What ``/readyz`` and ``/metrics`` say about one input."""

    last_ok: float | None = None
    """when a poll last succeeded (seconds since the epoch)"""
    last_error: str | None = None
    lag: float | None = None
    """seconds from arrival to detection of the last batch's records (the worst)"""
    lags: list[float] = field(default_factory=list)
    """every lag measured since the last read (``take_lags``)"""


class Watcher:
    """Polls ``uris`` (and the push log) every ``interval`` seconds; one instance per process."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        uris: Sequence[str],
        *,
        interval: float = DEFAULT_INTERVAL,
        settle: float = 0.0,
        pushes: bool = True,
        on_batch: Callable[[BatchReport], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.interval = interval
        self.inputs = [open_input(uri, settings, settle=settle) for uri in uris]
        self.runner = BatchRunner(settings, db, self.inputs, push_log(settings) if pushes else None)
        self.lease = WriterLease(settings.home)
        self.on_batch = on_batch
        self.on_wait = on_wait
        self.status: dict[str, InputStatus] = {one.uri: InputStatus() for one in self.inputs}
        if pushes:
            self.status[PUSHES] = InputStatus()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._warm = False
        self._thread: threading.Thread | None = None
        self.holding_since: float | None = None
        """when this process took the writer lease (staleness counts from then)"""
        self.last_batch: BatchReport | None = None

    # -- running ---------------------------------------------------------------------------------

    def run(self) -> None:
        """Batches until ``stop``; a failed batch is logged and retried after a pause (nothing
        of it was let go, so the retry reads it again)."""
        waiting_said = False
        while not self.stopping.is_set():
            began = time.monotonic()
            if not self.lease.acquire():
                if not waiting_said and self.on_wait is not None:
                    self.on_wait(
                        f"waiting for the writer lease of {self.lease.path} (another watcher "
                        "or a functrail serve push writer holds it)"
                    )
                    waiting_said = True
                self.stopping.wait(self.interval)
                continue
            waiting_said = False
            try:
                report = self.step()
            except Exception:
                log.exception("watch: a batch failed; nothing of it was let go, it is retried")
                self.stopping.wait(BACKOFF_SECONDS)
                continue
            if not report.backlog:
                self.stopping.wait(max(0.0, self.interval - (time.monotonic() - began)))
        self.lease.release()

    def step(self) -> BatchReport:
        """One micro-batch now (the caller holds, or this takes, the lease)."""
        with self._lock:
            if not self.lease.acquire():
                raise RuntimeError(f"another process holds the writer lease {self.lease.path}")
            if not self._warm:
                self._warm_up()
            if self.holding_since is None:
                self.holding_since = time.time()
            report = self.runner.run()
            self._record(report)
            self.last_batch = report
        if self.on_batch is not None:
            self.on_batch(report)
        return report

    def start(self) -> None:
        """Run in a background thread (``functrail serve``)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="functrail-watch", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Ask the loop to stop after the batch in hand; wait for it when it runs in a thread."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # -- state -----------------------------------------------------------------------------------

    def stale(self, now: float | None = None) -> list[str]:
        """Inputs not polled successfully for ``STALE_INTERVALS`` intervals (at least 60 s).

        A watcher waiting for the lease another process holds (``serve --workers N``: one
        watches, the others stand by) has none: the holder reports its own."""
        if not self.lease.held:
            return []
        now = time.time() if now is None else now
        limit = max(60.0, STALE_INTERVALS * self.interval)
        return [
            uri
            for uri, status in self.status.items()
            if now - (status.last_ok or self.holding_since or now) > limit
        ]

    def _record(self, report: BatchReport) -> None:
        now = time.time()
        for uri in report.polled:
            self.status[uri].last_ok = now
            self.status[uri].last_error = None
        if PUSHES in self.status:
            self.status[PUSHES].last_ok = now
        for uri, why in report.errors.items():
            self.status[uri].last_error = why
        for uri, lags in report.lags.items():
            if lags:
                self.status[uri].lag = max(lags)
                self.status[uri].lags.extend(lags)

    def take_lags(self) -> dict[str, list[float]]:
        """The lags measured since the last call, per input (for a histogram)."""
        out = {}
        for uri, status in self.status.items():
            out[uri], status.lags = status.lags, []
        return out

    def _warm_up(self) -> None:
        """Carry the lake's last minutes into the windowed rules: a window that began before a
        restart still fires when its later rows come."""
        self._warm = True
        with self.runner.db.session() as session:
            registry = rule_registry(self.settings, rule_states(session))
        spans = [w for r in registry.active() if (w := window_of(r)) is not None]
        if not spans:
            return
        since = datetime.now(UTC) - max(spans) - self.runner.stream.lateness
        events = EventLake(self.settings.lake_root).read(since)
        if not events.empty:
            self.runner.stream.warm(events, registry)
