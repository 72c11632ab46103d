"""One trained anomaly model: the forest, the histories and baselines it scores against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd

from models.forest import ForestModel
from pipelines.features import PrincipalHistory

MODEL_NAME: Final = "principal-behaviour"


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of training; all of them land in the manifest."""

    window: str = "hour"
    trees: int = 200
    seed: int = 0
    strays_per_day: float = 1.0
    min_history_days: int = 3
    """Principals with fewer active days are neither trained on nor scored (cold start)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "trees": self.trees,
            "seed": self.seed,
            "strays_per_day": self.strays_per_day,
            "min_history_days": self.min_history_days,
        }


@dataclass(frozen=True)
class AnomalyModel:
    """Everything the anomaly detectors need, as trained (or loaded from the registry)."""

    forest: ForestModel
    history: PrincipalHistory
    volume: pd.DataFrame
    config: TrainConfig
    manifest: dict[str, Any] = field(default_factory=dict)
    wallet: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Hour-of-week invocation baselines per function and account (``models.baselines``);
    empty for models trained before denial-of-wallet existed: that detector then stays quiet."""

    @property
    def version(self) -> str | None:
        value = self.manifest.get("version")
        return str(value) if value is not None else None
