"""``functrail serve`` prunes once a day at ``FUNCTRAIL_PRUNE_SCHEDULE`` (HH:MM UTC, default
03:30; ``off`` never). A thread in the serve command's process, as the score scheduler is: with
``--workers N`` the app runs in N processes, and the prune must run once."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from datetime import time as dtime

from pipelines.settings import Settings
from service.db import Database, open_database
from service.retention.prune import PrunePlan, prune
from service.scheduling import MAX_WAIT, Clock, next_run, utc_now

log = logging.getLogger(__name__)


class PruneScheduler:
    """Applies the retention settings every day at ``at`` (UTC) in a background thread."""

    def __init__(
        self,
        settings: Settings,
        at: dtime,
        *,
        clock: Clock = utc_now,
        database: Database | None = None,
    ) -> None:
        self.settings = settings
        self.at = at
        self.clock = clock
        self.database = database
        self.last: PrunePlan | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="prune-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        slot = next_run(self.at, self.clock())
        while not self._stop.is_set():
            now = self.clock()
            if now < slot:
                self._stop.wait(min((slot - now).total_seconds(), MAX_WAIT))
                continue
            self.run(now)
            slot = next_run(self.at, self.clock())

    def run(self, now: datetime | None = None) -> PrunePlan | None:
        """Prune now; a failure is logged, never raised (tomorrow's run tries again)."""
        db = self.database or open_database(self.settings)
        try:
            with db.session() as session:
                self.last = prune(self.settings, session, dry_run=False, now=now)
            log.info("pruned: %s", self.last.as_dict())
            return self.last
        except Exception:
            log.exception("scheduled prune failed")
            return None
        finally:
            if self.database is None:
                db.dispose()


def start_pruner(settings: Settings, *, clock: Clock = utc_now) -> PruneScheduler | None:
    """Start the daily prune unless ``FUNCTRAIL_PRUNE_SCHEDULE`` is ``off``."""
    if not settings.prune_schedule or settings.prune_schedule == "off":
        return None
    pruner = PruneScheduler(settings, dtime.fromisoformat(settings.prune_schedule), clock=clock)
    pruner.start()
    return pruner
