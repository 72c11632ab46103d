"""Fit the anomaly model on days of events, replaying history day by day as scoring will.

Each training day's features are computed against the history of the days before it, so the
novelty features the forest learns are the ones the daily job will produce.
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from typing import Any

import pandas as pd

from models.baselines import volume_baseline, wallet_baseline
from models.bundle import MODEL_NAME, AnomalyModel, TrainConfig
from models.forest import fit_forest
from models.verdicts import Excluded, without_windows
from pipelines.features import (
    FEATURE_COLUMNS,
    PrincipalHistory,
    principal_features,
    volume_counts,
)
from pipelines.features.keys import utc_times, with_principal

LIBRARIES = ("scikit-learn", "skops", "numpy", "pandas", "pyarrow")


def library_versions() -> dict[str, str]:
    """Versions that shape what a model computes, recorded in each manifest."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def day_range(start: date, end: date) -> Iterator[date]:
    """Days from ``start`` to ``end`` inclusive."""
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def train(
    days: Iterable[pd.DataFrame],
    config: TrainConfig | None = None,
    *,
    exclude: Sequence[Excluded] = (),
) -> AnomalyModel:
    """Fit on event batches given in time order (one per day is natural). ``exclude``: windows
    of alerts analysts confirmed (true positives), left out: an attack is not behaviour to
    learn as normal."""
    config = config or TrainConfig()
    excluded_events = 0
    history = PrincipalHistory.empty()
    rows: list[pd.DataFrame] = []
    counts: list[pd.DataFrame] = []
    digest = hashlib.sha256()
    first: datetime | None = None
    last: datetime | None = None
    events = 0
    for whole in days:
        batch = without_windows(whole, exclude)
        excluded_events += len(whole) - len(batch)
        if batch.empty:
            continue
        ids = batch["id"].astype("string[pyarrow]").sort_values().to_numpy(dtype=object)
        digest.update("\n".join(ids).encode("utf-8", "surrogatepass"))
        times = utc_times(batch["time"])
        first = min(first, times.min()) if first is not None else times.min()
        last = max(last, times.max()) if last is not None else times.max()
        events += len(batch)
        counts.append(volume_counts(batch, window=config.window))
        actors = with_principal(batch)
        features = principal_features(actors, history, window=config.window)
        rows.append(features[features["history_days"] >= config.min_history_days])
        history = history.update(actors)
    if first is None or last is None:
        raise ValueError("no events in the training span")
    start = pd.Timestamp(first).floor("D").to_pydatetime()
    end = (pd.Timestamp(last).floor("D") + pd.Timedelta(days=1)).to_pydatetime()
    span_days = (end - start) / timedelta(days=1)
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    forest = fit_forest(
        frame,
        trees=config.trees,
        seed=config.seed,
        strays_per_day=config.strays_per_day,
        days=max(span_days - config.min_history_days, 1.0),
    )
    all_counts = pd.concat(counts, ignore_index=True)
    volume = volume_baseline(all_counts, start=start, end=end, window=config.window)
    wallet = wallet_baseline(all_counts, start=start, end=end, window=config.window)
    manifest: dict[str, Any] = {
        "name": MODEL_NAME,
        "created": datetime.now(UTC).isoformat(),
        "window": config.window,
        "features": list(forest.features),
        "parameters": config.as_dict(),
        "training_span": {"start": start.isoformat(), "end": end.isoformat()},
        "training_events": events,
        "training_windows": len(frame),
        "data_sha256": digest.hexdigest(),
        "libraries": library_versions(),
        "threshold": forest.threshold,
        "principals": len(history.principals),
        "volume_series": len(volume),
        "wallet_rows": len(wallet),
        "excluded_windows": len(exclude),
        "excluded_events": excluded_events,
    }
    return AnomalyModel(forest, history, volume, config, manifest, wallet)


def lake_days(
    read: Callable[[datetime, datetime], pd.DataFrame], start: date, end: date
) -> Iterator[pd.DataFrame]:
    """Day batches from a lake reader ``read(start, end)`` (e.g. ``EventLake.read`` with the
    feature columns), one day in memory at a time."""
    for day in day_range(start, end):
        begin = datetime(day.year, day.month, day.day, tzinfo=UTC)
        yield read(begin, begin + timedelta(days=1))


__all__ = ["FEATURE_COLUMNS", "day_range", "lake_days", "library_versions", "train"]
