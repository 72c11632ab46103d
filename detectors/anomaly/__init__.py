"""Anomaly detectors over a batch of events: isolation forest, first-seen, volume baselines.

Public API (what ``functrail detect`` and the daily job call)::

    run = detect_anomalies(events, registry, history=None)   # -> AnomalyRun
    run.alerts        # list[Alert], folded per principal (or series) and window
    run.held_back     # candidates the alert-volume guard dropped (lowest scores)
    run.unscored      # principals skipped by the cold-start rule

An empty registry raises ``NoTrainedModel`` (callers say so and let the rules run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from detectors.alert import Alert, fold
from detectors.anomaly.alerts import build_alerts, guard, principal_title, volume_title
from detectors.anomaly.config import AnomalyConfig
from detectors.anomaly.first_seen import first_seen_candidates
from detectors.anomaly.forest import forest_candidates
from detectors.anomaly.volume import volume_candidates
from models.bundle import AnomalyModel
from models.registry import ModelRegistry, NoTrainedModel
from pipelines.features import PrincipalHistory, principal_features, volume_counts
from pipelines.features.keys import ENTITY, with_principal

DETECTORS = ("isolation-forest", "first-seen", "volume")


@dataclass
class AnomalyRun:
    """What one run of the anomaly detectors found, and what it did not look at."""

    alerts: list[Alert]
    model_version: str | None
    held_back: int = 0
    unscored: int = 0
    candidates: dict[str, int] = field(default_factory=dict)


def detect_anomalies(
    events: pd.DataFrame,
    model: ModelRegistry | AnomalyModel,
    *,
    history: PrincipalHistory | None = None,
    config: AnomalyConfig | None = None,
    detectors: tuple[str, ...] = DETECTORS,
) -> AnomalyRun:
    """Score ``events`` with the registry's active model (or the given one).

    ``history`` is the principals' past before these events; by default the model's own (as of
    the end of its training span). The daily job passes the history it moves on day by day.
    """
    config = config or AnomalyConfig()
    if isinstance(model, ModelRegistry):
        model = model.load()
    history = history if history is not None else model.history
    window = model.config.window
    if events.empty:
        return AnomalyRun([], model.version)

    volume_events, events = events, with_principal(events)
    features = principal_features(events, history, window=window)
    scored = features[features["history_days"] >= model.config.min_history_days]
    unscored = features.loc[features["history_days"] < model.config.min_history_days, list(ENTITY)]
    parts: list[pd.DataFrame] = []
    found: dict[str, int] = {}
    if "isolation-forest" in detectors:
        hits = forest_candidates(scored, model)
        hits = hits.assign(detector="isolation-forest", resource=None, event_ids=None)
        hits["title"] = principal_title("isolation-forest", hits)
        parts.append(hits)
    if "first-seen" in detectors:
        hits = first_seen_candidates(
            events,
            features,
            history,
            config,
            window=window,
            min_history_days=model.config.min_history_days,
        )
        # Evidence: the principal's events in the window, not only each value's first use.
        hits = hits.assign(detector="first-seen", resource=None, event_ids=None)
        hits["title"] = principal_title("first-seen", hits)
        parts.append(hits)
    if "volume" in detectors:
        counts = volume_counts(volume_events, window=window)
        hits = volume_candidates(counts, model.volume, config)
        hits = hits.assign(
            detector="volume",
            principal=None,
            resource=hits["key"].where(hits["kind"] == "function", None),
            event_ids=None,
        )
        hits["title"] = volume_title(hits)
        parts.append(hits)
    for part in parts:
        if len(part):
            found[str(part["detector"].iloc[0])] = len(part)
    columns = [
        "detector", "provider", "account", "principal", "resource", "window", "score",
        "title", "explanation", "event_ids", "kind", "key",
    ]  # fmt: skip
    candidates = (
        pd.concat([p.reindex(columns=columns) for p in parts if len(p)], ignore_index=True)
        if any(len(p) for p in parts)
        else pd.DataFrame(columns=columns)
    )
    kept, held_back = guard(candidates, config.max_alerts)
    alerts = build_alerts(kept, events, window=window, evidence_ids=config.evidence_ids)
    return AnomalyRun(
        alerts=fold(alerts),
        model_version=model.version,
        held_back=held_back,
        unscored=len(unscored.drop_duplicates()),
        candidates=found,
    )


__all__ = [
    "DETECTORS",
    "AnomalyConfig",
    "AnomalyRun",
    "NoTrainedModel",
    "detect_anomalies",
]
