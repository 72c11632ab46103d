"""The in-service scheduler: on a single-box install, ``functrail serve`` runs the daily score job
itself at ``FUNCTRAIL_SCORE_SCHEDULE`` (HH:MM UTC) for yesterday. Off unless that is set.

It is a thread in the serve command's own process, not in the app: with ``--workers N`` the app
runs in N processes, and a scheduler there would score the day N times. Runs never overlap:
one thread runs them one after another, and a file lock in ``FUNCTRAIL_HOME`` keeps a second
``functrail serve`` on the same box (or a ``functrail score`` holding it) out. A day missed
while the service was down is not caught up: the next run scores its own yesterday; use
``functrail score --date D`` (or the systemd timer, ``Persistent=true``) for the gap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from pipelines.settings import Settings
from service.db import Database, open_database
from service.jobs.store import finish_job_run, record_job_run
from service.scoring.job import JOB_KIND, ScoreFailed, ScoreResult, score_day
from service.scoring.lock import ScoreLocked, score_lock

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_WAIT = 60.0
"""Seconds between looks at the clock while waiting: a clock that jumps (suspend, NTP) is
noticed within a minute; ``stop`` ends the wait at once."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def next_run(at: dtime, now: datetime) -> datetime:
    """The first ``at`` (UTC) strictly after ``now``."""
    today = datetime.combine(now.astimezone(UTC).date(), at, tzinfo=UTC)
    return today if today > now else today + timedelta(days=1)


def scored_day(slot: datetime) -> date:
    """The day a run due at ``slot`` scores: the UTC day before it, whenever it really starts."""
    return slot.astimezone(UTC).date() - timedelta(days=1)


class DailyThread:
    """A background thread that runs ``due(slot)`` every day at ``at`` (UTC): the score job's
    scheduler and the daily prune share this loop. ``clock`` is injectable so tests move time,
    not sleep. A run past the next slot skips it."""

    label = "daily job"
    """what the log calls it"""
    thread_name = "daily-job"

    def __init__(self, at: dtime, *, clock: Clock = utc_now) -> None:
        self.at = at
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop waiting; a run in progress is not cut short (a later run completes it anyway)."""
        self._stop.set()
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def due(self, slot: datetime, now: datetime) -> None:
        """The day's run, ``slot`` the time it was due; never raises (the loop outlives it)."""
        raise NotImplementedError

    def _loop(self) -> None:
        slot = next_run(self.at, self.clock())
        log.info("%s scheduled: next run %s", self.label, slot.isoformat())
        while not self._stop.is_set():
            now = self.clock()
            if now < slot:
                self._stop.wait(min((slot - now).total_seconds(), MAX_WAIT))
                continue
            self.due(slot, now)
            slot = next_run(self.at, self.clock())


class ScoreScheduler(DailyThread):
    """Runs ``score_day`` for yesterday every day at ``at`` (UTC) in a background thread."""

    label = "score job"
    thread_name = "score-scheduler"

    def __init__(
        self,
        settings: Settings,
        at: dtime,
        *,
        clock: Clock = utc_now,
        database: Database | None = None,
        on_result: Callable[[ScoreResult | None], None] | None = None,
    ) -> None:
        """Without ``database`` each run opens (and closes) its own from ``settings``;
        ``on_result`` sees each run's outcome."""
        super().__init__(at, clock=clock)
        self.settings = settings
        self.database = database
        self.on_result = on_result

    def due(self, slot: datetime, now: datetime) -> None:
        result = self.run(scored_day(slot))
        if self.on_result is not None:
            self.on_result(result)

    def run(self, day: date) -> ScoreResult | None:
        """Score ``day`` now; failures are recorded on the job run and logged, never raised."""
        db = self.database or open_database(self.settings)
        try:
            with score_lock(self.settings):
                return score_day(
                    day, self.settings.score_sources, self.settings, db, scheduled=True
                )
        except ScoreLocked as exc:
            with db.session() as session:
                params = {"date": day.isoformat(), "sources": self.settings.score_sources}
                run_id = record_job_run(session, JOB_KIND, {**params, "scheduled": True})
                finish_job_run(session, run_id, status="failed", error=f"skipped: {exc}")
            log.warning("scheduled score of %s skipped: %s", day, exc)
        except ScoreFailed as exc:
            log.error("scheduled score of %s failed: %s", day, exc)
        except Exception:  # the scheduler outlives a bad run; the next day still runs
            log.exception("scheduled score of %s crashed", day)
        finally:
            if self.database is None:
                db.dispose()
        return None


def start_scheduler(settings: Settings, *, clock: Clock = utc_now) -> ScoreScheduler | None:
    """Start the daily score job when ``FUNCTRAIL_SCORE_SCHEDULE`` is set; else None."""
    if not settings.score_schedule:
        return None
    at = dtime.fromisoformat(settings.score_schedule)
    scheduler = ScoreScheduler(settings, at, clock=clock)
    scheduler.start()
    return scheduler
