"""Detection over one partition: the unit of work a local loop or a Dask worker runs.

Takes and returns plain picklable values (a Partition, Settings, Alerts), opens the lake and
the model registry itself, so a worker needs only the package and paths it can reach.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pandas as pd

from detectors.alert import Alert
from detectors.rules.engine import run_rules, run_rules_deferring_correlations
from detectors.rules.loader import load_registry
from detectors.rules.registry import RuleRegistry
from models.day_summaries import DaySummaries
from pipelines.features import PrincipalHistory
from pipelines.features.keys import with_principal
from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.scoring.partitions import Partition, RawFetcher, read_partition


@dataclass
class PartResult:
    """Alerts of one partition, how many events it held, and notes for the run's summary."""

    alerts: list[Alert]
    events: int
    notes: list[str] = field(default_factory=list)
    model_version: str | None = None
    correlation_rows: list[str] = field(default_factory=list)
    """Split partitions only: ids of the rows correlations build on (``merge`` runs them)."""
    summary: PrincipalHistory | None = None
    """With an active model: what the partition's principals did, for the day's summary."""


@functools.lru_cache(maxsize=4)
def _rules(folders: tuple[Path, ...]) -> tuple[RuleRegistry, tuple[str, ...]]:
    """Loaded once per process: a worker runs many partitions."""
    registry, errors = load_registry(list(folders))
    return registry, tuple(f"rule not loaded: {e.line()}" for e in errors)


def detect_partition(
    part: Partition, settings: Settings, enabled: Mapping[str, bool] | None = None
) -> PartResult:
    """Every enabled rule and the active anomaly model over the partition's events.

    ``enabled`` is the admins' on/off map from the store (``service.rules.store.rule_states``),
    read once by the job and passed in, since a Dask worker has no database session.
    """
    lake = EventLake(part.lake_root)
    events = read_partition(lake, part)
    fetch = RawFetcher(lake, part)
    registry = rule_registry(settings, enabled)
    result = PartResult([], len(events), list(_rules(_folders(settings))[1]))
    if part.split:
        result.alerts, result.correlation_rows = run_rules_deferring_correlations(
            events, registry, whole_by="principal", raw_fetch=fetch
        )
    else:
        result.alerts = run_rules(events, registry, raw_fetch=fetch)
    _add_anomalies(result, part, events, settings, fetch)
    return result


def splits_exactly(settings: Settings) -> bool:
    """Whether an oversized account may be split by principal without changing any alert.

    Rules settle exactly across principal ranges (``merge``); the anomaly model's volume series
    (per account and action) and its alert-volume guard see the whole partition, so with an
    active model accounts stay whole and memory grows with the largest account.
    """
    from models.registry import ModelRegistry

    return ModelRegistry(settings.models_dir).active() is None


def _folders(settings: Settings) -> tuple[Path, ...]:
    return (settings.rules_dir,) if settings.rules_dir else ()


def rule_registry(settings: Settings, enabled: Mapping[str, bool] | None) -> RuleRegistry:
    """The loaded rules (cached per process) with the admins' on/off map applied."""
    return RuleRegistry(_rules(_folders(settings))[0], enabled)


def _fill_raw(alerts: list[Alert], fetch: RawFetcher) -> None:
    """Put the records into evidence samples of a frame read without ``raw`` (as
    ``event_records`` decodes them)."""
    samples = [s for a in alerts for s in a.evidence.sample if s.get("raw") is None]
    if not samples:
        return
    found = fetch([str(s["id"]) for s in samples])
    for sample in samples:
        raw = found.get(str(sample["id"]))
        sample["raw"] = raw
        with contextlib.suppress(orjson.JSONDecodeError):
            sample["raw"] = orjson.loads(raw) if raw else None


def _add_anomalies(
    result: PartResult,
    part: Partition,
    events: pd.DataFrame,
    settings: Settings,
    fetch: RawFetcher,
) -> None:
    try:
        from detectors.anomaly import detect_anomalies
        from models.registry import ModelRegistry, NoTrainedModel
    except ImportError as exc:
        result.notes.append(f"anomaly detectors unavailable: {exc}")
        return
    try:
        model = ModelRegistry(settings.models_dir).load()
    except NoTrainedModel as exc:
        result.notes.append(f"the anomaly detectors have no trained model ({exc}); rules only")
        return
    # Yesterday's new addresses and agents are known today: the model's history moved on
    # through the days scored since training (models.day_summaries).
    history = DaySummaries(settings.models_dir).history_for(model, part.start.date())
    run = detect_anomalies(events, model, history=history)
    result.summary = PrincipalHistory.from_events(with_principal(events))
    _fill_raw(run.alerts, fetch)
    result.alerts.extend(run.alerts)
    result.model_version = run.model_version
