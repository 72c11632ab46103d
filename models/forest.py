"""The isolation forest over principal-window features, with a calibrated 0..1 score.

Raw scores (``-score_samples``: higher is stranger) are calibrated by the empirical CDF of the
training scores, so a score of 0.999 means "stranger than 99.9% of the training windows"; the
alert threshold is a level of that CDF chosen from how many windows a day training saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from pipelines.features import PRINCIPAL_FEATURES

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest

SHARE_FEATURES: Final = frozenset({"error_share", "write_share", "off_hours_share"})
"""Shares stay as they are; counts and days are log-scaled so a 10x jump weighs like one."""

TRUSTED_TYPES: Final = [
    "sklearn.ensemble._iforest.IsolationForest",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
]
"""The only types a forest artifact may contain; anything else refuses to load."""

CALIBRATION_LEVELS: Final = np.concatenate(
    [np.linspace(0.0, 0.99, 100), np.linspace(0.99, 1.0, 1001)[1:]]
)
"""CDF levels at which training scores are kept: fine in the tail, where thresholds live."""


@dataclass(frozen=True)
class ForestModel:
    """A fitted forest, the features it reads, its score calibration and feature baselines."""

    forest: IsolationForest
    features: tuple[str, ...]
    calibration: np.ndarray
    """Raw training scores at ``CALIBRATION_LEVELS``."""
    threshold: float
    """Calibrated score at or above which a window alerts."""
    feature_stats: pd.DataFrame
    """Per feature (index): p50, p95, mean, std over training windows: the population baseline."""

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's input: features in order, counts as log1p."""
        columns = []
        for name in self.features:
            values = frame[name].to_numpy(np.float64)
            columns.append(values if name in SHARE_FEATURES else np.log1p(np.maximum(values, 0)))
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))

    def raw_scores(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated anomaly scores, higher is stranger."""
        if frame.empty:
            return np.empty(0)
        return -self.forest.score_samples(self.matrix(frame))

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated scores in 0..1: the training CDF at each raw score."""
        return calibrate(self.raw_scores(frame), self.calibration)

    def save(self, path: Path) -> None:
        """The forest alone, with skops (never pickle); the rest goes in the manifest."""
        import skops.io  # lazy: skops + sklearn take seconds to import; the CLI starts without

        skops.io.dump(self.forest, path)

    @staticmethod
    def load_forest(path: Path) -> IsolationForest:
        """Load a forest artifact, trusting only ``TRUSTED_TYPES``."""
        import skops.io
        from sklearn.ensemble import IsolationForest

        forest = skops.io.load(path, trusted=TRUSTED_TYPES)
        if not isinstance(forest, IsolationForest):
            raise TypeError(f"{path}: not an IsolationForest artifact")
        return forest


def calibrate(raw: np.ndarray, calibration: np.ndarray) -> np.ndarray:
    """Empirical CDF of training scores at ``raw``; beyond the training maximum it is 1."""
    return np.clip(np.interp(raw, calibration, CALIBRATION_LEVELS), 0.0, 1.0)


def fit_forest(
    frame: pd.DataFrame,
    *,
    features: tuple[str, ...] = PRINCIPAL_FEATURES,
    trees: int = 200,
    seed: int = 0,
    strays_per_day: float = 1.0,
    days: float = 1.0,
) -> ForestModel:
    """Fit on training windows and set the threshold so ~``strays_per_day`` would alert a day."""
    if len(frame) < 10:
        raise ValueError(f"too little training data: {len(frame)} principal windows (need 10)")
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(
        n_estimators=trees, max_samples=min(256, len(frame)), random_state=seed, n_jobs=1
    )
    draft = ForestModel(forest, features, np.zeros(1), 1.0, pd.DataFrame())
    x = draft.matrix(frame)
    forest.fit(x)
    raw = -forest.score_samples(x)
    calibration = np.quantile(raw, CALIBRATION_LEVELS)
    per_day = len(frame) / max(days, 1.0)
    threshold = float(np.clip(1.0 - strays_per_day / per_day, 0.99, 0.9999))
    stats = pd.DataFrame(
        {
            "p50": frame[list(features)].quantile(0.5),
            "p95": frame[list(features)].quantile(0.95),
            "mean": frame[list(features)].mean(),
            "std": frame[list(features)].std(ddof=0).fillna(0.0),
        }
    )
    return ForestModel(forest, features, calibration, threshold, stats)
