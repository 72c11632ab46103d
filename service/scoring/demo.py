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

import orjson
import pandas as pd
from sqlalchemy import select

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
    _compare(result, db, logs / "labels.jsonl", first_scored)
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


def _compare(result: DemoResult, db: Database, labels: Path, since: date) -> None:
    """An attack is caught when a stored alert's evidence holds one of its events."""
    with db.session() as session:
        rows = list(session.scalars(select(AlertRow)))
    evidence = {i for row in rows for i in row.evidence.get("event_ids", [])}
    result.alerts_by_severity = dict(Counter(row.severity for row in rows))
    for line in labels.read_bytes().splitlines():
        label = orjson.loads(line)
        if datetime.fromisoformat(label["start"]).date() < since:
            continue
        name = f"{label['scenario']} ({label['start'][:10]})"
        hit = evidence.intersection(label.get("event_ids", []))
        (result.caught if hit else result.missed).append(name)
