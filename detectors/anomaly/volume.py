"""Volume and error-count anomalies per (account, action) and per function, both clouds.

A window alerts when its count clears three bars at once: the robust baseline (median plus
``volume_mads`` robust standard deviations), a multiple of the baseline's 99th percentile, and
an absolute floor, so daily peaks and tiny series stay quiet.
"""

from __future__ import annotations

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
    found = []
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
    hits["explanation"] = [
        [
            Deviation(
                feature=f"{row['measure']} per window",
                observed=float(row["observed"]),
                baseline=f"median {row['base_median']:.3g} ± {row['base_sigma']:.3g}",
                detail=f"alert bar {row['bar']:.3g} over {int(row['windows'])} baseline windows",
            )
        ]
        for row in hits.to_dict("records")
    ]
    return hits[columns]
