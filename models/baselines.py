"""Robust volume baselines per series (account+action, function): median and MAD of windows.

Like CloudTrail Insights, but for both clouds: the baseline is the last 7-28 days of training
windows, counting windows with no events as zeros, so a quiet series stays quiet.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import numpy as np
import pandas as pd

from pipelines.features.volume import VOLUME_KEYS

MAX_DAYS: Final = 28
MIN_DAYS: Final = 7
WINDOW_HOURS: Final = {"hour": 1, "day": 24}
BASELINE_COLUMNS: Final = (
    *VOLUME_KEYS,
    "windows",
    "events_median",
    "events_mad",
    "events_p99",
    "errors_median",
    "errors_mad",
    "errors_p99",
)


def _robust(nonzero: np.ndarray, windows: int) -> tuple[float, float, float]:
    full = np.zeros(max(windows, len(nonzero)))
    full[: len(nonzero)] = nonzero
    median = float(np.median(full))
    mad = float(np.median(np.abs(full - median)))
    return median, mad, float(np.quantile(full, 0.99))


def volume_baseline(
    counts: pd.DataFrame, *, start: datetime, end: datetime, window: str = "hour"
) -> pd.DataFrame:
    """Baselines from ``volume_counts`` rows of ``[start, end)``; series younger than
    ``MIN_DAYS`` before ``end`` are left out (cold start: they are not scored)."""
    begin = max(start, end - timedelta(days=MAX_DAYS))
    windows = int((end - begin) / timedelta(hours=WINDOW_HOURS[window]))
    recent = counts[(counts["window"] >= begin) & (counts["window"] < end)]
    first = recent.groupby(list(VOLUME_KEYS), sort=False)["window"].transform("min")
    recent = recent[first <= pd.Timestamp(end) - pd.Timedelta(days=MIN_DAYS)]
    rows = []
    for key, group in recent.groupby(list(VOLUME_KEYS), sort=True):
        events = _robust(group["events"].to_numpy(np.float64), windows)
        errors = _robust(group["errors"].to_numpy(np.float64), windows)
        rows.append((*key, windows, *events, *errors))
    frame = pd.DataFrame(rows, columns=list(BASELINE_COLUMNS))
    return frame.astype({"windows": "int64"})
