"""Feature extraction: behaviour per principal and window, history summaries, volume series."""

from pipelines.features.earlier import EarlierWindows
from pipelines.features.history import PrincipalHistory
from pipelines.features.keys import FEATURE_COLUMNS, NOVELTY_KINDS
from pipelines.features.principal import (
    ACTIVITY_FEATURES,
    NOVELTY_FEATURES,
    PRINCIPAL_FEATURES,
    principal_features,
    window_start,
)
from pipelines.features.volume import add_volume_counts, function_features, volume_counts

__all__ = [
    "ACTIVITY_FEATURES",
    "FEATURE_COLUMNS",
    "NOVELTY_FEATURES",
    "NOVELTY_KINDS",
    "PRINCIPAL_FEATURES",
    "EarlierWindows",
    "PrincipalHistory",
    "add_volume_counts",
    "function_features",
    "principal_features",
    "volume_counts",
    "window_start",
]
