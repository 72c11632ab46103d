"""Drops: a function's invocations, or an account's whole volume, falling far below what its
hour-of-week baseline expects over a span.

A function nobody calls any more may be broken, disabled (reserved concurrency 0) or
re-pointed; an account whose every log goes quiet has usually lost its trail, sink or
delivery, not its users. ``volume_drops`` is a plain function over counts and the baseline, so a
coverage view can ask the same question of any span without raising alerts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import numpy as np
import pandas as pd

from detectors.alert import Deviation
from detectors.anomaly.config import AnomalyConfig
from models.baselines import invocation_series
from pipelines.features.volume import VOLUME_KEYS

DROP_KINDS: Final = ("function", "events")
"""Series watched for drops: each function's invocations and each account's every event."""
COLUMNS: Final = [
    *VOLUME_KEYS, "window", "measure", "observed", "expected", "hours", "score", "explanation",
]  # fmt: skip


def volume_drops(
    counts: pd.DataFrame,
    baseline: pd.DataFrame,
    start: datetime,
    end: datetime,
    config: AnomalyConfig | None = None,
) -> pd.DataFrame:
    """Series of ``baseline`` (``wallet_baseline`` rows of kinds in ``DROP_KINDS``) whose calls
    in the hours ``[start, end)`` of ``counts`` (``volume_counts`` rows) are at most
    ``drop_ratio`` of what the baseline expects for those hours of the week, with ``observed``,
    ``expected`` and an explanation; ``window`` is ``start``. A series absent from ``counts``
    observed 0."""
    config = config or AnomalyConfig()
    if baseline.empty:
        return pd.DataFrame(columns=COLUMNS)
    hours = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="1h", inclusive="left")
    if len(hours) == 0:
        return pd.DataFrame(columns=COLUMNS)
    slots = pd.DataFrame({"hour_of_week": hours.day_of_week * 24 + hours.hour})
    watched = baseline[baseline["kind"].isin(DROP_KINDS)]
    usual = watched["how_median"].where(watched["how_median"].notna(), watched["hod_median"])
    expected = (
        watched.assign(_usual=usual)
        .merge(slots, on="hour_of_week")
        .groupby(list(VOLUME_KEYS), sort=True)["_usual"]
        .sum()
        .rename("expected")
        .reset_index()
    )
    series = (
        invocation_series(counts)
        if len(counts)
        else pd.DataFrame(columns=[*VOLUME_KEYS, "window", "events"])
    )
    inside = series[
        (series["window"] >= hours[0]) & (series["window"] < hours[-1] + pd.Timedelta(hours=1))
    ]
    seen = (
        inside.groupby(list(VOLUME_KEYS), sort=True)["events"]
        .sum()
        .rename("observed")
        .reset_index()
    )
    joined = expected.merge(seen, on=list(VOLUME_KEYS), how="left")
    joined["observed"] = joined["observed"].fillna(0.0).astype(np.float64)
    low = (joined["expected"] >= config.drop_min_expected) & (
        joined["observed"] <= config.drop_ratio * joined["expected"]
    )
    found = joined[low].copy()
    if found.empty:
        return pd.DataFrame(columns=COLUMNS)
    share = found["observed"] / found["expected"]
    found = found.assign(
        window=hours[0],
        measure="drop",
        hours=len(hours),
        score=0.6 + 0.3 * (1.0 - share / config.drop_ratio).clip(0.0, 1.0),
    )
    explained = [
        [
            Deviation(
                feature="calls over the span"
                if r["kind"] == "events"
                else "invocations over the span",
                observed=float(r["observed"]),
                baseline=f"expected {r['expected']:.0f} in these {r['hours']} hours of the week",
                detail=f"{r['observed'] / r['expected']:.1%} of the usual; "
                f"a drop at or below {config.drop_ratio:.0%}",
            )
        ]
        for r in found.to_dict("records")
    ]
    found["explanation"] = pd.Series(explained, index=found.index, dtype=object)
    return found[COLUMNS].reset_index(drop=True)
