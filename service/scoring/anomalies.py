"""The anomaly detectors' day-level half: volume series and the alert-volume guard, once a run.

Partitions hold whole principal-windows, so each scores its principals alone
(``detect.detect_partition``). Two things belong to the whole run instead: a volume series
(per account and action or function, per window) spans every principal of its account, so the
partitions return their counts, which add up, and the series are scored here once; and the
guard ("at most ``max_alerts`` per run", ``AnomalyConfig``) ranks every candidate of the run.
The guard's order is total (score, then ``rank_keys``), so the day's top ``max_alerts`` is the
top of the partitions' own tops: each partition builds alerts for its top only.
A volume alert's evidence (the window's events of its series, capped) is read back from the
lake by filter: two columns for the window, whole rows for the sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from detectors.alert import EVIDENCE_SAMPLE_LIMIT, Alert, fold
from detectors.anomaly import AnomalyConfig, volume_hits
from detectors.anomaly.alerts import candidate_alert, rank_keys
from models.bundle import AnomalyModel
from pipelines.features import add_volume_counts
from pipelines.features.principal import WINDOWS
from pipelines.lake import DATASET_SCHEMA, EventLake
from service.scoring.detect import PartResult
from service.scoring.partitions import Partition, partition_filter, read_partition


@dataclass
class SettledAnomalies:
    """The run's anomaly alerts and how many candidates the guard held back."""

    alerts: list[Alert]
    held_back: int = 0


def settle_anomalies(
    results: Sequence[PartResult],
    model: AnomalyModel,
    lake_root: str,
    config: AnomalyConfig | None = None,
) -> SettledAnomalies:
    """Volume candidates of the summed counts, the guard over every candidate of the run, and
    the alerts of those kept (volume ones built here from the lake)."""
    config = config or AnomalyConfig()
    counts = add_volume_counts([r.volume for r in results if r.volume is not None])
    volume = volume_hits(counts, model, config)
    ranked: list[tuple[float, str, int, int]] = []  # -score, rank, source (-1 volume), index
    for source, result in enumerate(results):
        for index, (score, rank) in enumerate(result.anomaly_ranks):
            ranked.append((-score, rank, source, index))
    for index, (score, rank) in enumerate(zip(volume["score"], rank_keys(volume), strict=True)):
        ranked.append((-float(score), rank, -1, index))
    ranked.sort(key=lambda r: (r[0], r[1]))
    kept = ranked[: config.max_alerts]
    total = sum(r.anomaly_candidates for r in results) + len(volume)
    alerts = [results[s].anomalies[i] for _, _, s, i in kept if s >= 0]
    chosen = sorted(i for _, _, s, i in kept if s < 0)
    if chosen:
        lake = EventLake(lake_root)
        window = model.config.window
        for row in volume.iloc[chosen].to_dict("records"):
            alerts.append(_volume_alert(lake, lake_root, row, window, config.evidence_ids))
    return SettledAnomalies(fold(alerts), max(total - len(kept), 0))


def _volume_alert(
    lake: EventLake, lake_root: str, row: Mapping[Any, Any], window: str, evidence_ids: int
) -> Alert:
    """One volume candidate's alert; evidence: its series' events in the window, by (time, id)."""
    start = pd.Timestamp(row["window"]).to_pydatetime()
    end = (pd.Timestamp(start) + pd.Timedelta(WINDOWS[window])).to_pydatetime()
    account = str(row["account"] or "") or None
    part = Partition(lake_root, str(row["provider"]), (account,), start, end, 0)
    times, ids = _series_events(lake, part, str(row["kind"]), str(row["key"]))
    first: datetime = times[0] if times else start
    last: datetime = times[-1] if times else start
    picked = ids[:evidence_ids]
    sample = read_partition(lake, part, ids=picked[:EVIDENCE_SAMPLE_LIMIT])
    return candidate_alert(row, picked, sample, first, last)


def _series_events(
    lake: EventLake, part: Partition, kind: str, key: str
) -> tuple[list[datetime], list[str]]:
    """Times and ids of the series' events in the partition's window, by (time, id), once each."""
    dataset = lake.dataset()
    if dataset is None:
        return [], []
    expr = partition_filter(part)
    if kind == "function":
        expr = expr & (ds.field("resource") == key) & (ds.field("category") == "invocation")
    else:
        expr = expr & (ds.field("action") == key)
    table = dataset.to_table(columns=["time", "id"], filter=expr)
    if not table.num_rows:
        return [], []
    table = table.take(pc.sort_indices(table, [("time", "ascending"), ("id", "ascending")]))
    ids = table.column("id").to_pylist()
    keep = [i == 0 or ids[i] != ids[i - 1] for i in range(len(ids))]
    table = table.filter(pa.array(keep))
    kind_of_time = DATASET_SCHEMA.field("time").type
    times = table.column("time").cast(kind_of_time).to_pylist()
    return times, table.column("id").to_pylist()
