"""The demo pipeline (``functrail demo``): simulate a week, ingest, train, score, compare.

Each step is the production one (simulator, ``ingest_range``, ``models.train``, ``score_day``);
only the orchestration and the label comparison live here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from models.evaluation import Flagged, Label, read_labels, score_alerts
from pipelines.ingest import ingest_range
from pipelines.lake import EventLake
from pipelines.rejects import write_rejects
from pipelines.settings import Settings
from service.alerts.models import AlertRow
from service.db import Database
from service.scoring.job import score_day

DEMO_START = date(2026, 3, 2)


@dataclass
class DemoResult:
    """Counts for the summary: events, alerts by severity, attacks caught against the labels."""

    events: int = 0
    rejects: int = 0
    model_version: str | None = None
    scored_days: list[date] = field(default_factory=list)
    alerts_by_severity: dict[str, int] = field(default_factory=dict)
    caught: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    caught_by: dict[str, list[str]] = field(default_factory=dict)
    """Label name -> rule ids of the alerts that caught it."""
    unmatched: dict[date, int] = field(default_factory=dict)
    """Per scored day: alerts that match no labelled attack (an analyst's wasted triage)."""
    unmatched_rules: dict[date, dict[str, int]] = field(default_factory=dict)
    """Per scored day: those alerts by rule id."""


def run_demo(
    settings: Settings,
    db: Database,
    *,
    days: int,
    score_days: int,
    seed: int,
    scale: float,
    say: Callable[[str], None],
) -> DemoResult:
    """Simulate ``days`` from DEMO_START, train on all but the last ``score_days``, score those."""
    from pipelines.simulate import simulate

    result = DemoResult()
    logs = settings.home / "demo-logs"
    say(f"simulating {days} days into {logs}")
    simulate(logs, days, seed, ["all"], DEMO_START, scale, overwrite=True)
    lake = EventLake(settings.lake_root)
    start = datetime(DEMO_START.year, DEMO_START.month, DEMO_START.day, tzinfo=UTC)
    say("ingesting into the lake")
    # The audit logs only: labels.jsonl beside them is the answer key, not input.
    sources = [str(logs / "aws"), str(logs / "gcp")]
    tally = ingest_range(sources, lake, settings, start, start + timedelta(days=days))
    result.events, result.rejects = tally.new + tally.duplicates, len(tally.rejects)
    write_rejects(tally.rejects, settings.rejects_dir, "demo")
    train_days = days - score_days
    result.model_version = _train(settings, lake, DEMO_START, train_days, seed, say)
    first_scored = DEMO_START + timedelta(days=train_days)
    for n in range(score_days):
        day = first_scored + timedelta(days=n)
        say(f"scoring {day}")
        score_day(day, [], settings, db)
        result.scored_days.append(day)
    _compare(result, db, lake, logs / "labels.jsonl", first_scored)
    return result


def _train(
    settings: Settings,
    lake: EventLake,
    first: date,
    days: int,
    seed: int,
    say: Callable[[str], None],
) -> str | None:
    if days < 1:
        return None
    try:
        from models.bundle import TrainConfig
        from models.registry import ModelRegistry
        from models.train import lake_days, train
        from pipelines.features import FEATURE_COLUMNS
    except ImportError as exc:
        say(f"anomaly training unavailable ({exc}); the rules alone will score")
        return None
    say(f"training the anomaly models on {days} days")

    def read(begin: datetime, end: datetime) -> pd.DataFrame:
        return lake.read(begin, end, columns=list(FEATURE_COLUMNS))

    last = first + timedelta(days=days - 1)
    try:
        model = train(lake_days(read, first, last), TrainConfig(seed=seed))
    except ValueError as exc:  # too few days or principals: the rules still score
        say(f"not training: {exc}; the rules alone will score")
        return None
    return ModelRegistry(settings.models_dir).register(model, activate=True)


def _compare(
    result: DemoResult, db: Database, lake: EventLake, labels_path: Path, since: date
) -> None:
    """Labels of the scored days caught or missed, and the alerts matching none, per day
    (``models.evaluation``: by cited events, or principal / resource and time)."""
    with db.session() as session:
        rows = list(session.scalars(select(AlertRow)))
    result.alerts_by_severity = dict(Counter(row.severity for row in rows))
    records = [
        r
        for r in read_labels(labels_path.read_bytes())
        if datetime.fromisoformat(str(r["start"]).replace("Z", "+00:00")).date() >= since
    ]
    ids = [str(i) for r in records for i in r.get("event_ids", [])]
    touched = lake.get(ids, start=_midnight(since)) if ids else None
    by_id: dict[str, str] = {}
    if touched is not None and len(touched):
        resource = touched["resource"].astype(object).where(touched["resource"].notna(), "")
        by_id = dict(zip(touched["id"].astype(str), resource.astype(str), strict=True))
    labels = [
        Label.from_record(r, (by_id.get(str(i), "") for i in r.get("event_ids", [])))
        for r in records
    ]
    flagged = [
        Flagged(
            id=row.id,
            detector=row.detector,
            rule_id=row.rule_id,
            account=row.account,
            principal=row.principal,
            resource=row.resource,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            event_ids=frozenset(str(i) for i in row.evidence.get("event_ids", [])),
        )
        for row in rows
    ]
    card = score_alerts(flagged, labels)
    result.caught = list(card.caught)
    result.caught_by = card.caught
    result.missed = card.missed
    result.unmatched = card.unmatched_per_day(result.scored_days)
    for alert in card.unmatched:
        per_rule = result.unmatched_rules.setdefault(alert.first_seen.date(), {})
        per_rule[alert.rule_id] = per_rule.get(alert.rule_id, 0) + 1


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
