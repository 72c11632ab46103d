"""Isolation-forest candidates: principal-windows scoring above the model's threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from detectors.alert import Deviation
from models.bundle import AnomalyModel

TOP_DEVIATIONS = 4


def forest_candidates(features: pd.DataFrame, model: AnomalyModel) -> pd.DataFrame:
    """Rows of ``features`` (already past the cold-start filter) whose calibrated score
    reaches the threshold, with ``score`` and ``explanation`` columns."""
    forest = model.forest
    scores = forest.scores(features)
    hits = features.assign(score=scores)[scores >= forest.threshold].copy()
    hits["explanation"] = pd.Series(
        [explain(row, forest.feature_stats) for _, row in hits.iterrows()],
        index=hits.index,
        dtype=object,
    )
    return hits


def explain(row: pd.Series, stats: pd.DataFrame) -> list[Deviation]:
    """The features furthest above the population's 95th percentile, largest first."""
    names = [n for n in stats.index if n in row.index]
    observed = row[names].to_numpy(np.float64)
    p50 = stats.loc[names, "p50"].to_numpy(np.float64)
    p95 = stats.loc[names, "p95"].to_numpy(np.float64)
    spread = np.maximum(p95 - p50, np.maximum(stats.loc[names, "std"].to_numpy(np.float64), 1e-3))
    z = (observed - p95) / spread
    above = [i for i in np.argsort(-z) if observed[i] > p95[i]]
    # A window can be rare for its combination of ordinary values: then show the largest z.
    order = (above or list(np.argsort(-z)))[:TOP_DEVIATIONS]
    return [
        Deviation(
            feature=names[i],
            observed=round(float(observed[i]), 3),
            baseline=f"p95={p95[i]:.3g}",
            detail=f"median {p50[i]:.3g} over training windows",
        )
        for i in order
    ]
