"""Volume and error-count anomalies per (account, action) and per function, both clouds.

A window alerts when its count clears three bars at once: the robust baseline (median plus
``volume_mads`` robust standard deviations), a multiple of the baseline's 99th percentile, and
an absolute floor, so daily peaks and tiny series stay quiet.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from detectors.alert import Deviation
from detectors.anomaly.config import AnomalyConfig
from pipelines.features.volume import VOLUME_KEYS

ROBUST_SIGMA = 1.4826
"""MAD times this estimates the standard deviation of normally distributed counts."""


def volume_candidates(
    counts: pd.DataFrame, baseline: pd.DataFrame, config: AnomalyConfig
) -> pd.DataFrame:
    """Windows of ``volume_counts`` above their series' baseline, one row per series, window
    and measure (``events`` or ``errors``), with score and explanation."""
    columns = [*VOLUME_KEYS, "window", "measure", "observed", "score", "explanation"]
    if counts.empty or baseline.empty:
        return pd.DataFrame(columns=columns)
    joined = counts.merge(baseline, on=list(VOLUME_KEYS), how="inner")
    found = [_error_rates(joined, config)]
    joined = joined[joined["kind"] != "principal"]  # principals: error rates only
    for measure in ("events", "errors"):
        median = joined[f"{measure}_median"]
        sigma = np.maximum(ROBUST_SIGMA * joined[f"{measure}_mad"], np.sqrt(median.clip(lower=1)))
        bar = np.maximum.reduce(
            [
                (median + config.volume_mads * sigma).to_numpy(np.float64),
                (config.volume_p99_factor * joined[f"{measure}_p99"]).to_numpy(np.float64),
                np.full(len(joined), float(config.volume_min_events)),
            ]
        )
        bar = np.maximum(bar, floors(joined, measure, config))
        observed = joined[measure].to_numpy(np.float64)
        hit = observed >= bar
        rows = joined[hit].assign(
            measure=measure,
            observed=observed[hit],
            score=0.5 + 0.5 * (1.0 - bar[hit] / observed[hit]),
            base_median=median[hit],
            base_sigma=sigma[hit],
            bar=bar[hit],
        )
        found.append(rows)
    hits = pd.concat(found, ignore_index=True)
    if hits.empty:
        return pd.DataFrame(columns=columns)
    explained = [
        [_rate_deviation(row)]
        if row["measure"] == "error_rate"
        else [
            Deviation(
                feature=f"{row['measure']} per window",
                observed=float(row["observed"]),
                baseline=f"median {row['base_median']:.3g} ± {row['base_sigma']:.3g}",
                detail=f"alert bar {row['bar']:.3g} over {int(row['windows'])} baseline windows",
            )
        ]
        for row in hits.to_dict("records")
    ]
    for parts, row in zip(explained, hits.to_dict("records"), strict=True):
        parts.extend(adjusted(row, row["measure"], config))
    hits["explanation"] = pd.Series(explained, index=hits.index, dtype=object)
    return hits[columns]


def _error_rates(joined: pd.DataFrame, config: AnomalyConfig) -> pd.DataFrame:
    """Windows whose share of failed calls is far above the series' pooled rate: a principal
    probing what it may not do, a function failing after a change. Needs ``error_rate`` in the
    baseline (models trained before it have none: no rows)."""
    if "error_rate" not in joined.columns or joined.empty:
        return joined.iloc[0:0]
    base = joined["error_rate"].fillna(0.0).to_numpy(np.float64)
    calls = joined["events"].to_numpy(np.float64)
    errors = joined["errors"].to_numpy(np.float64)
    rate = errors / np.maximum(calls, 1.0)
    bar = np.minimum(
        np.maximum(config.error_rate_factor * base, base + config.error_rate_margin), 1.0
    )
    hit = (rate >= bar) & (errors >= config.error_rate_min_errors) & (calls >= 1)
    return joined[hit].assign(
        measure="error_rate",
        observed=rate[hit],
        score=0.5 + 0.4 * (rate[hit] - base[hit]),
        base_median=base[hit],
        base_sigma=0.0,
        bar=bar[hit],
        calls=calls[hit],
        failed=errors[hit],
    )


def _rate_deviation(row: dict[Any, Any]) -> Deviation:
    return Deviation(
        feature="error rate per window",
        observed=round(float(row["observed"]), 3),
        baseline=f"{float(row['base_median']):.3f} of calls failed over "
        f"{int(row['windows'])} baseline windows",
        detail=f"{int(row['failed'])} of {int(row['calls'])} calls failed; "
        f"alert bar {float(row['bar']):.3f}",
    )


def floors(rows: pd.DataFrame, measure: str, config: AnomalyConfig) -> np.ndarray:
    """Per row, the alert-bar floor analysts' false-positive verdicts set on its series (0:
    none)."""
    if not config.series_floors or rows.empty:
        return np.zeros(len(rows))
    keys = zip(rows["provider"], rows["account"], rows["kind"], rows["key"], strict=True)
    return np.array(
        [
            config.series_floors.get((str(p), str(a), f"{k}:{key}", measure), (0.0, ""))[0]
            for p, a, k, key in keys
        ],
        dtype=np.float64,
    )


def adjusted(row: dict[Any, Any], measure: str, config: AnomalyConfig) -> list[Deviation]:
    """The explanation line saying a verdict widened this series' baseline, if one did."""
    key = (str(row["provider"]), str(row["account"]), f"{row['kind']}:{row['key']}", measure)
    found = config.series_floors.get(key)
    if found is None:
        return []
    return [Deviation(feature="baseline adjusted", observed=found[0], baseline=found[1])]
