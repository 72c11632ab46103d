"""Detection over one partition: the unit of work a local loop or a Dask worker runs.

Takes and returns plain picklable values (a Partition, Settings, Alerts), opens the lake and
the model registry itself, so a worker needs only the package and paths it can reach.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from detectors.alert import Alert
from detectors.rules.engine import run_rules
from detectors.rules.loader import load_registry
from detectors.rules.registry import RuleRegistry
from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.scoring.partitions import Partition, read_partition


@dataclass
class PartResult:
    """Alerts of one partition, how many events it held, and notes for the run's summary."""

    alerts: list[Alert]
    events: int
    notes: list[str] = field(default_factory=list)
    model_version: str | None = None


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
    events = read_partition(EventLake(part.lake_root), part)
    folders = (settings.rules_dir,) if settings.rules_dir else ()
    loaded, notes = _rules(folders)
    registry = RuleRegistry(loaded, enabled)
    result = PartResult(run_rules(events, registry), len(events), list(notes))
    _add_anomalies(result, events, settings)
    return result


def _add_anomalies(result: PartResult, events: pd.DataFrame, settings: Settings) -> None:
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
    run = detect_anomalies(events, model)
    result.alerts.extend(run.alerts)
    result.model_version = run.model_version
