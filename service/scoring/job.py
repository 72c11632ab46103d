"""``score_day``: the daily job. Ingest the day, detect over it as read back from the lake, and
commit alerts, webhook deliveries and the job run together.

Why it is idempotent and resumable: the lake drops ids it holds; detection reads the day back
from the lake in a fixed order, so a rerun sees the same input and builds the same alerts
(ids derive from dedup key and first-seen); ``save_alerts`` treats a repeat with known event
ids as unchanged, and unchanged alerts queue no deliveries. Nothing reaches the database
until the single final commit, so a run killed at any point leaves either the whole result
or none of it, and the next run completes it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import reduce
from typing import Any

from detectors.alert import SEVERITY_RANK
from models.day_summaries import DaySummaries
from pipelines.dropped import NO_DROPS, DroppedFields
from pipelines.features import PrincipalHistory
from pipelines.ingest import IngestTally, ingest_range
from pipelines.lake import EventLake
from pipelines.provenance import Conflict
from pipelines.rejects import Reject, write_rejects
from pipelines.runner import LocalRunner, Runner
from pipelines.settings import Settings
from service.alerts.store import save_alerts
from service.coverage.report import coverage_findings
from service.db import Database
from service.ingest.conflicts import conflict_alerts
from service.jobs.store import JobStatus, finish_job_run, record_job_run
from service.rules.store import rule_states, shadow_plan
from service.scoring.day import detect_day
from service.scoring.detect import PartResult
from service.scoring.partitions import DEFAULT_PART_EVENTS
from service.webhooks.outbox import enqueue_for_alerts

JOB_KIND = "score"
CRASH_HOOK = "FUNCTRAIL_SCORE_CRASH_AT"
"""Test hook: ``os._exit`` at a named step (``ingested``, ``detected``, ``saved``)."""

Progress = Callable[[str], None]


@dataclass
class ScoreResult:
    """What one day's run did: the counts recorded on its job run and printed as the summary."""

    day: date
    run_id: int
    events: int = 0
    ingested: int = 0
    duplicates: int = 0
    rejects: list[Reject] = field(default_factory=list)
    dropped: DroppedFields = NO_DROPS
    partitions: int = 0
    alerts: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    deliveries: int = 0
    notes: list[str] = field(default_factory=list)
    failed_sources: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    rejects_file: str | None = None
    conflicts: list[Conflict] = field(default_factory=list)
    """records of one id with two contents met while ingesting: stored as alerts with the day's"""
    coverage: int = 0
    """coverage findings (silent accounts, stopped log types, failing sources) at the day's end"""

    def counts(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "ingested": self.ingested,
            "duplicates": self.duplicates,
            "rejects": len(self.rejects),
            "dropped_fields": self.dropped.as_dict(),
            "partitions": self.partitions,
            "alerts": self.alerts,
            "alerts_by_severity": self.by_severity,
            "alert_changes": self.changes,
            "deliveries_queued": self.deliveries,
            "failed_sources": self.failed_sources,
            "coverage_findings": self.coverage,
            "seconds": {k: round(v, 3) for k, v in self.timings.items()},
        }


class ScoreFailed(RuntimeError):
    """The run could not finish; its job run is marked failed with this message."""


def day_range(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, dtime(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def score_day(
    day: date,
    sources: Sequence[str],
    settings: Settings,
    db: Database,
    *,
    runner: Runner | None = None,
    part_events: int = DEFAULT_PART_EVENTS,
    progress: Progress | None = None,
    scheduled: bool = False,
) -> ScoreResult:
    """Score one UTC day; raises ScoreFailed (after recording it) when a step fails.

    With no ``sources`` it scores what the lake already holds for the day. A source that fails
    is recorded and fails the run, but only after everything else was scored and stored.
    ``scheduled`` marks the job run as started by the in-service scheduler.
    """
    say = progress or (lambda _text: None)
    runner = runner or LocalRunner()
    settings = absolute_paths(settings)
    start, end = day_range(day)
    params: dict[str, Any] = {"date": day.isoformat(), "sources": list(sources)}
    if scheduled:
        params["scheduled"] = True
    interrupted_runs(db, day)
    with db.session() as session:
        run_id = record_job_run(session, JOB_KIND, params)
    result = ScoreResult(day, run_id)
    try:
        _run(result, sources, settings, db, runner, start, end, part_events, say)
    except BaseException as exc:
        with db.session() as session:
            why = f"{type(exc).__name__}: {exc}"
            finish_job_run(session, run_id, status="failed", counts=result.counts(), error=why)
        if isinstance(exc, Exception):
            raise ScoreFailed(f"scoring {day} failed: {why}") from exc
        raise
    if result.failed_sources:
        failed = "; ".join(result.failed_sources)
        raise ScoreFailed(f"{len(result.failed_sources)} source(s) failed: {failed}")
    return result


def absolute_paths(settings: Settings) -> Settings:
    """``settings`` with its folders made absolute: Dask workers do not share our working folder.

    URIs (``s3://...``) are left as they are; a relative ``home`` such as the default
    ``functrail-data`` would otherwise point each worker somewhere else.
    """
    update: dict[str, Any] = {"home": settings.home.absolute()}
    if settings.lake and "://" not in settings.lake:
        update["lake"] = os.path.abspath(settings.lake)
    if settings.models is not None:
        update["models"] = settings.models.absolute()
    if settings.rules_dir is not None:
        update["rules_dir"] = settings.rules_dir.absolute()
    return settings.model_copy(update=update)


def _run(
    result: ScoreResult,
    sources: Sequence[str],
    settings: Settings,
    db: Database,
    runner: Runner,
    start: datetime,
    end: datetime,
    part_events: int,
    say: Progress,
) -> None:
    lake = EventLake(settings.lake_root)
    clock = time.perf_counter()
    if sources:
        say(f"{result.day}: ingesting {len(sources)} source(s)")
        tally = ingest_range(
            sources, lake, settings, start, end, runner=runner, on_progress=_ingest_line(say)
        )
        _take_ingest(result, tally, settings)
    result.timings["ingest"] = time.perf_counter() - clock
    _crash_point("ingested")

    clock = time.perf_counter()
    with db.session() as session:
        enabled = rule_states(session)
        shadow = shadow_plan(session)
    day = detect_day(
        settings,
        start,
        end,
        runner=runner,
        part_events=part_events,
        enabled=enabled,
        on_part=lambda done, total: say(f"{result.day}: detected {done}/{total} partitions"),
    )
    clock_coverage = time.perf_counter()
    found = coverage_findings(lake, settings, min(end, datetime.now(UTC)))
    result.coverage = len(found)
    result.timings["coverage"] = time.perf_counter() - clock_coverage
    results = day.results
    alerts = [*day.alerts, *conflict_alerts(result.conflicts), *found]
    result.partitions = len(day.parts)
    for done_part in results:
        result.events += done_part.events
        result.notes.extend(n for n in done_part.notes if n not in result.notes)
    _save_day_summary(result.day, results, settings)
    result.timings["detect"] = time.perf_counter() - clock
    _crash_point("detected")

    clock = time.perf_counter()
    say(f"{result.day}: storing {len(alerts)} alerts")
    with db.session() as session:  # one transaction: alerts, deliveries and the run's outcome
        saved = save_alerts(session, alerts, shadow=shadow)
        result.deliveries = enqueue_for_alerts(session, saved)
        result.alerts = len(saved)
        result.by_severity = _by_severity(s.alert for s in saved)
        result.changes = dict(Counter(s.change for s in saved))
        result.timings["store"] = time.perf_counter() - clock
        status: JobStatus = "failed" if result.failed_sources else "succeeded"
        error = "; ".join(result.failed_sources) or None
        finish_job_run(session, result.run_id, status=status, counts=result.counts(), error=error)
        _crash_point("saved")


def _save_day_summary(day: date, results: Sequence[PartResult], settings: Settings) -> None:
    """The day's principal summary beside the models, so the next day's first-seen knows it.

    Partitions hold disjoint principals, so their summaries merge without overlap; a rerun
    writes the same summary again, and scoring a day never reads its own (only earlier days').
    """
    summaries = [r.summary for r in results if r.summary is not None]
    if not summaries:
        return
    merged = reduce(PrincipalHistory.merge, summaries)
    DaySummaries(settings.models_dir).save(day, merged)


def _take_ingest(result: ScoreResult, tally: IngestTally, settings: Settings) -> None:
    result.ingested = tally.new
    result.duplicates = tally.duplicates
    result.rejects = tally.rejects
    result.dropped = tally.dropped
    result.failed_sources = tally.failed
    result.conflicts = tally.conflicts
    where = write_rejects(tally.rejects, settings.rejects_dir, "score")
    result.rejects_file = str(where) if where else None


def _ingest_line(say: Progress) -> Callable[[IngestTally], None]:
    def report(tally: IngestTally) -> None:
        line = f"ingest: {tally.blobs} blobs, {tally.new} new events, {len(tally.rejects)} rejected"
        if tally.dropped:
            line += f", {tally.dropped.total} optional fields dropped"
        say(line)

    return report


def _by_severity(alerts: Any) -> dict[str, int]:
    counts = Counter(a.severity for a in alerts)
    return {s: counts[s] for s in sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__) if counts[s]}


def _crash_point(step: str) -> None:
    """Die like SIGKILL at ``step`` when the test hook asks (no cleanup, no commit)."""
    if os.environ.get(CRASH_HOOK) == step:
        os._exit(137)


def interrupted_runs(db: Database, day: date) -> int:
    """Mark runs of this day left ``running`` by a killed job as failed; returns how many."""
    from sqlalchemy import select

    from service.jobs.models import JobRunRow

    marked = 0
    with db.session() as session:
        rows = session.scalars(
            select(JobRunRow).where(JobRunRow.kind == JOB_KIND, JobRunRow.status == "running")
        )
        for row in rows:
            if row.params.get("date") == day.isoformat():
                finish_job_run(
                    session, row.id, status="failed", error="interrupted: no finish recorded"
                )
                marked += 1
    return marked
