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
    "error_rate",
)
"""``error_rate``: errors / calls over the baseline windows pooled (per principal, function and
action: the rate a window's share of failures is compared with)."""


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
        rate = float(group["errors"].sum()) / max(float(group["events"].sum()), 1.0)
        rows.append((*key, windows, *events, *errors, rate))
    frame = pd.DataFrame(rows, columns=list(BASELINE_COLUMNS))
    return frame.astype({"windows": "int64"})


WALLET_COLUMNS: Final = (
    *VOLUME_KEYS,
    "hour_of_week",
    "days",
    "hod_median",
    "hod_max",
    "how_median",
    "how_samples",
)
"""Per invocation series (a function, or an account's every function: ``key`` ``*``) and
hour of the week: the median and maximum of the same hour of day over the series' days, and
the median of the same hour of the week (NaN below two samples: a week or less of data)."""


def invocation_series(counts: pd.DataFrame) -> pd.DataFrame:
    """``volume_counts`` rows as hour-of-week series per window: each function's invocations
    by its short name (``function_name``: ARN and bare name are one function), each account's
    invocations (``kind`` ``account``, ``key`` ``*``) and each account's every event (``kind``
    ``events``, ``key`` ``*``: what a drop of the whole account's volume is measured on)."""
    from pipelines.features.functions import function_name

    functions = counts[counts["kind"] == "function"]
    everything = (
        counts[counts["kind"] == "action"]
        .assign(kind="events", key="*")
        .groupby([*VOLUME_KEYS, "window"], sort=True)["events"]
        .sum()
        .reset_index()
    )
    if functions.empty:
        return everything
    named = functions.assign(key=function_name(functions["key"]).to_numpy(dtype=object))
    per_function = named.groupby([*VOLUME_KEYS, "window"], sort=True)["events"].sum().reset_index()
    per_account = (
        named.assign(kind="account", key="*")
        .groupby([*VOLUME_KEYS, "window"], sort=True)["events"]
        .sum()
        .reset_index()
    )
    return pd.concat([per_function, per_account, everything], ignore_index=True)


def wallet_baseline(
    counts: pd.DataFrame, *, start: datetime, end: datetime, window: str = "hour"
) -> pd.DataFrame:
    """Hour-of-week invocation baselines from ``volume_counts`` rows of ``[start, end)``
    (hourly models only). Days from a series' first day on count, hours without calls as 0."""
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in WALLET_COLUMNS})
    if window != "hour" or counts.empty:
        return empty
    begin = max(start, end - timedelta(days=MAX_DAYS))
    series = invocation_series(counts)
    series = series[(series["window"] >= begin) & (series["window"] < end)]
    if series.empty:
        return empty
    last_day = pd.Timestamp(end).floor("D") - pd.Timedelta(days=1)
    rows = []
    for key, group in series.groupby(list(VOLUME_KEYS), sort=True):
        first_day = group["window"].min().floor("D")
        days = pd.date_range(first_day, last_day, freq="D")
        if len(days) == 0:
            continue
        grid = np.zeros((len(days), 24))
        day_index = ((group["window"].dt.floor("D") - first_day) / pd.Timedelta(days=1)).astype(int)
        np.add.at(grid, (day_index.to_numpy(), group["window"].dt.hour.to_numpy()), group["events"])
        weekday = days.day_of_week.to_numpy()
        hod_median = np.median(grid, axis=0)
        hod_max = grid.max(axis=0)
        for dow in range(7):
            same = grid[weekday == dow]
            for hour in range(24):
                samples = len(same)
                how = float(np.median(same[:, hour])) if samples >= 2 else np.nan
                rows.append(
                    (*key, dow * 24 + hour, len(days), float(hod_median[hour]),
                     float(hod_max[hour]), how, samples)
                )  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(WALLET_COLUMNS))
    return frame.astype({"hour_of_week": "int64", "days": "int64", "how_samples": "int64"})
