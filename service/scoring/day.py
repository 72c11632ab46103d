"""Detection over one day of the lake: plan partitions, run them, settle what crosses them.

The job (``job.score_day``) calls this between ingestion and storing; tests call it with tiny
partitions to check that where the day is cut changes no alert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from detectors.alert import Alert
from pipelines.lake import EventLake
from pipelines.runner import LocalRunner, Runner
from pipelines.settings import Settings
from service.scoring.detect import PartResult, anomaly_window, detect_partition
from service.scoring.merge import settle_alerts
from service.scoring.partitions import DEFAULT_PART_EVENTS, Partition, plan_partitions


@dataclass
class DayDetection:
    """The partitions of the day, what each found, and the day's settled alerts in order."""

    parts: list[Partition]
    results: list[PartResult]
    alerts: list[Alert]


def detect_day(
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    runner: Runner | None = None,
    part_events: int = DEFAULT_PART_EVENTS,
    enabled: Mapping[str, bool] | None = None,
    on_part: Callable[[int, int], None] | None = None,
) -> DayDetection:
    """Every alert of ``[start, end)`` in the lake: rules and the active anomaly model, sorted
    by (first seen, rule, dedup key, id). ``on_part(done, total)`` reports progress."""
    runner = runner or LocalRunner()
    lake = EventLake(settings.lake_root)
    parts = plan_partitions(
        lake,
        settings.lake_root,
        start,
        end,
        part_events=part_events,
        slice_window=anomaly_window(settings),
    )
    found: list[PartResult | None] = [None] * len(parts)
    task = partial(detect_partition, settings=settings, enabled=enabled)
    for done, (index, part_result) in enumerate(runner.map(task, parts), start=1):
        found[index] = part_result
        if on_part is not None:
            on_part(done, len(parts))
    results = [r for r in found if r is not None]
    assert len(results) == len(parts)
    alerts: list[Alert] = settle_alerts(parts, results, settings, enabled)
    alerts.extend(_settle_anomalies(results, settings))
    alerts.sort(key=lambda a: (a.first_seen, a.rule_id, a.dedup_key, a.id))
    return DayDetection(parts, results, alerts)


def _settle_anomalies(results: Sequence[PartResult], settings: Settings) -> list[Alert]:
    """The run's anomaly alerts: volume series and the guard over every partition's part."""
    versions = {r.model_version for r in results if r.model_version is not None}
    if not versions:
        return []
    from models.registry import ModelRegistry
    from service.baselines.store import anomaly_config
    from service.scoring.anomalies import settle_anomalies

    model = ModelRegistry(settings.models_dir).load()
    if versions != {model.version}:
        raise RuntimeError(f"the active model changed during the run: {versions}, {model.version}")
    config = anomaly_config(settings)
    return settle_anomalies(results, model, settings.lake_root, config).alerts
