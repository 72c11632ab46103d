"""The anomaly detectors' day-level half: volume series and the alert-volume guard, once a run.

Partitions hold whole principal-windows, so each scores its principals alone
(``detect.detect_partition``). Two things belong to the whole run instead: a volume series
(per account and action or function, per window) spans every principal of its account, so the
partitions return their counts, which add up, and the series are scored here once; and the
guard ("at most ``max_alerts`` per run", ``AnomalyConfig``) ranks every candidate of the run.
The guard's order is total (score, then ``rank_keys``), so the day's top ``max_alerts`` is the
top of the partitions' own tops: each partition builds alerts for its top only.
A volume alert's evidence (the window's events of its series, capped) is read back from the
lake (``service.scoring.evidence``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from detectors.alert import Alert, fold
from detectors.anomaly import AnomalyConfig, volume_hits
from detectors.anomaly.alerts import rank_keys
from models.bundle import AnomalyModel
from pipelines.features import add_volume_counts
from pipelines.features.functions import no_changes, read_config_changes
from service.scoring.detect import PartResult
from service.scoring.evidence import lake_alert


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
    volume = volume_hits(
        counts, model, config, changes=_config_changes(counts, lake_root), span=_day(counts)
    )
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
        window = model.config.window
        for row in volume.iloc[chosen].to_dict("records"):
            alerts.append(lake_alert(lake_root, row, window, config.evidence_ids))
    return SettledAnomalies(fold(alerts), max(total - len(kept), 0))


CONFIG_LOOKBACK = pd.Timedelta(days=90)
"""How far back the lake is read for functions' last create / update events."""


def _config_changes(counts: pd.DataFrame, lake_root: str) -> pd.DataFrame:
    """Functions' configuration events of the lake before the run's last window ends: their
    timeout and memory price a flood, their recent raises explain it."""
    functions = counts[counts["kind"] == "function"] if len(counts) else counts
    if functions.empty:
        return no_changes()
    end = pd.Timestamp(functions["window"].max()) + pd.Timedelta(hours=1)
    start = end - CONFIG_LOOKBACK
    return read_config_changes(lake_root, start.to_pydatetime(), end.to_pydatetime())


def _day(counts: pd.DataFrame) -> tuple[datetime, datetime] | None:
    """The scored day the counts fall in (drops are measured over the whole day)."""
    if counts.empty:
        return None
    start = pd.Timestamp(counts["window"].min()).floor("D")
    return start.to_pydatetime(), (start + pd.Timedelta(days=1)).to_pydatetime()
