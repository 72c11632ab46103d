"""The API's audit rows, written in batches by one background thread per API process.

A request only appends its entry to an in-memory queue; the writer commits what has gathered
every ``interval`` seconds (or at once when ``max_batch`` rows wait) in one INSERT, together
with the keys' ``last_used_at``. On SQLite this turns one write transaction per request, which
serializes every client, into ~10 per second.

Policy when the database falls behind: rows stay queued (a failed batch is retried, never
dropped) and, once ``max_pending`` rows wait, ``full`` is true and the API refuses new calls
with 503 until the queue drains; no call is served without its row queued. The crash window:
a process killed without shutdown loses the rows still queued, at most ``interval`` seconds
of calls while the database keeps up. A clean stop (SIGTERM, the app's lifespan) flushes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime

from service.audit.store import AuditEntry, record_calls
from service.db import Database
from service.keys.store import LAST_USED_RESOLUTION, touch_keys

log = logging.getLogger("functrail.audit")


class AuditWriter:
    """Queue audit entries from any thread; one daemon thread writes them in batches."""

    def __init__(
        self,
        db: Database,
        *,
        interval: float = 0.1,
        max_batch: int = 1000,
        max_pending: int = 50_000,
        retry_after: float = 1.0,
    ) -> None:
        self.db = db
        self.interval, self.max_batch, self.max_pending = interval, max_batch, max_pending
        self.retry_after = retry_after
        self._queue: deque[AuditEntry] = deque()
        self._cond = threading.Condition()
        self._submitted = 0
        self._written = 0
        self._urgent = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self._last_touch: dict[str, datetime] = {}

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def full(self) -> bool:
        """True while ``max_pending`` rows wait: the API then refuses calls (503)."""
        return len(self._queue) >= self.max_pending

    def submit(self, entry: AuditEntry) -> None:
        """Queue one row; never blocks and never drops (``full`` is the caller's brake)."""
        with self._cond:
            if self._thread is None and not self._closing:
                self._thread = threading.Thread(
                    target=self._run, name="functrail-audit", daemon=True
                )
                self._thread.start()
            self._queue.append(entry)
            self._submitted += 1
            # Wake the writer only when it has to act: it sleeps until a first row comes,
            # then for the interval (or until a batch is full). A wake-up per call was a
            # thread switch and a GIL handoff per request.
            if len(self._queue) >= self.max_batch:
                self._urgent = True
                self._cond.notify_all()
            elif len(self._queue) == 1:
                self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row submitted so far is committed; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._submitted
            self._urgent = True
            self._cond.notify_all()
            while self._written < target:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return self._written >= target
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread (the app's shutdown calls this)."""
        with self._cond:
            self._closing = True
            self._urgent = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        if self._queue:
            log.error("audit log: %d rows not written at shutdown", len(self._queue))

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                deadline = time.monotonic() + self.interval
                while not self._urgent and not self._closing:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                self._urgent = False
                batch = [self._queue[i] for i in range(min(self.max_batch, len(self._queue)))]
            try:
                self._write(batch)
            except Exception:
                log.exception("audit log: %d rows not written yet; retrying", len(batch))
                if self._closing:
                    return
                time.sleep(self.retry_after)
                continue
            with self._cond:
                for _ in batch:
                    self._queue.popleft()
                self._written += len(batch)
                if self._queue:
                    self._urgent = True  # more than a batch waited: no pause before the next
                self._cond.notify_all()

    def _write(self, batch: Sequence[AuditEntry]) -> None:
        used: dict[str, datetime] = {}
        for entry in batch:
            if entry.key_id is not None:
                used[entry.key_id] = max(used.get(entry.key_id, entry.at), entry.at)
        due = {
            key_id: at
            for key_id, at in used.items()
            if key_id not in self._last_touch
            or at - self._last_touch[key_id] >= LAST_USED_RESOLUTION
        }
        with self.db.session() as session:
            record_calls(session, batch)
            touch_keys(session, due)
        self._last_touch.update(due)
        if len(self._last_touch) > 100_000:
            self._last_touch.clear()  # bounded; forgetting only means one more write per key
