"""``functrail serve`` prunes once a day at ``FUNCTRAIL_PRUNE_SCHEDULE`` (HH:MM UTC, default
03:30; ``off`` never). A thread in the serve command's process, as the score scheduler is: with
``--workers N`` the app runs in N processes, and the prune must run once."""

from __future__ import annotations

import logging
from datetime import datetime
from datetime import time as dtime

from pipelines.settings import Settings
from service.db import Database, open_database
from service.retention.prune import PrunePlan, prune
from service.scheduling import Clock, DailyThread, utc_now

log = logging.getLogger(__name__)


class PruneScheduler(DailyThread):
    """Applies the retention settings every day at ``at`` (UTC) in a background thread."""

    label = "prune"
    thread_name = "prune-scheduler"

    def __init__(
        self,
        settings: Settings,
        at: dtime,
        *,
        clock: Clock = utc_now,
        database: Database | None = None,
    ) -> None:
        super().__init__(at, clock=clock)
        self.settings = settings
        self.database = database
        self.last: PrunePlan | None = None

    def due(self, slot: datetime, now: datetime) -> None:
        self.run(now)

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
