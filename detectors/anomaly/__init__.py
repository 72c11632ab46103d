"""Anomaly detectors over a batch of events: isolation forest, first-seen, volume baselines.

Public API (what ``functrail detect`` and the daily job call)::

    run = detect_anomalies(events, registry, history=None)   # -> AnomalyRun
    run.alerts        # list[Alert], folded per principal (or series) and window
    run.held_back     # candidates the alert-volume guard dropped (lowest scores)
    run.unscored      # principals skipped by the cold-start rule

An empty registry raises ``NoTrainedModel`` (callers say so and let the rules run).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from detectors.alert import Alert, fold
from detectors.anomaly.alerts import (
    build_alerts,
    drop_title,
    guard,
    principal_title,
    volume_title,
    wallet_title,
)
from detectors.anomaly.config import AnomalyConfig
from detectors.anomaly.dormant import dormant_candidates
from detectors.anomaly.drops import volume_drops
from detectors.anomaly.first_seen import first_seen_candidates, new_values
from detectors.anomaly.forest import forest_candidates
from detectors.anomaly.volume import volume_candidates
from detectors.anomaly.wallet import wallet_candidates
from models.bundle import AnomalyModel
from models.registry import ModelRegistry, NoTrainedModel
from pipelines.features import EarlierWindows, PrincipalHistory, volume_counts
from pipelines.features.functions import config_changes, no_changes
from pipelines.features.keys import ENTITY, with_principal
from pipelines.features.principal import finish_features, window_aggregates

DETECTORS = (
    "isolation-forest", "first-seen", "dormant-identity", "volume", "denial-of-wallet",
    "volume-drop",
)  # fmt: skip
SERIES_DETECTORS = ("volume", "denial-of-wallet", "volume-drop")
"""Scored once per run over the summed counts of every batch (not per principal)."""


@dataclass
class AnomalyRun:
    """What one run of the anomaly detectors found, and what it did not look at."""

    alerts: list[Alert]
    model_version: str | None
    held_back: int = 0
    unscored: int = 0
    candidates: dict[str, int] = field(default_factory=dict)


CANDIDATE_COLUMNS = [
    "detector", "provider", "account", "principal", "resource", "window", "score",
    "title", "explanation", "event_ids", "kind", "key", "measure", "members",
]  # fmt: skip
"""One frame for every detector's candidates: what the guard ranks and alerts are built from."""


@dataclass
class PrincipalCandidates:
    """Isolation-forest and first-seen candidates of one batch (per principal and window)."""

    frame: pd.DataFrame
    unscored: int
    found: dict[str, int] = field(default_factory=dict)


@dataclass
class PrincipalParts:
    """What the per-principal detectors read of one batch: ``window_aggregates`` rows and
    ``new_values`` rows. Windows a time slice cuts are completed over the slices and combined
    (``combine_aggregates``) before ``principal_hits`` scores them."""

    aggregates: pd.DataFrame
    new: pd.DataFrame


def principal_parts(
    events: pd.DataFrame,
    model: AnomalyModel,
    *,
    history: PrincipalHistory,
    earlier: EarlierWindows | None = None,
    cut: Collection[pd.Timestamp] = (),
) -> PrincipalParts:
    """The partial aggregates and new values of ``events`` (rows with a principal)."""
    window = model.config.window
    aggregates = window_aggregates(events, history, window=window, earlier=earlier, cut=cut)
    return PrincipalParts(aggregates, new_values(events, history, window, earlier))


def principal_candidates(
    events: pd.DataFrame,
    model: AnomalyModel,
    *,
    history: PrincipalHistory,
    config: AnomalyConfig,
    detectors: tuple[str, ...] = DETECTORS,
    earlier: EarlierWindows | None = None,
) -> PrincipalCandidates:
    """Candidates of the per-principal detectors over whole principal-windows. Each needs only
    its principal's events of its window (and, for a later time slice of a run, ``earlier``),
    so any batch holding whole principal-windows gives the same rows as the whole run."""
    parts = principal_parts(with_principal(events), model, history=history, earlier=earlier)
    features = finish_features(parts.aggregates)
    return principal_hits(
        features, parts.new, model, history=history, config=config, detectors=detectors,
        earlier=earlier,
    )  # fmt: skip


def principal_hits(
    features: pd.DataFrame,
    new: pd.DataFrame,
    model: AnomalyModel,
    *,
    history: PrincipalHistory,
    config: AnomalyConfig,
    detectors: tuple[str, ...] = DETECTORS,
    earlier: EarlierWindows | None = None,
) -> PrincipalCandidates:
    """Isolation-forest and first-seen candidates of complete principal-window feature rows
    and their ``new_values`` rows."""
    scored = features[features["history_days"] >= model.config.min_history_days]
    unscored = features.loc[features["history_days"] < model.config.min_history_days, list(ENTITY)]
    parts: list[pd.DataFrame] = []
    if "isolation-forest" in detectors:
        hits = forest_candidates(scored, model)
        hits = hits.assign(detector="isolation-forest", resource=None, event_ids=None)
        hits["title"] = principal_title("isolation-forest", hits)
        parts.append(hits)
    if "first-seen" in detectors:
        hits = first_seen_candidates(
            new,
            features,
            history,
            config,
            min_history_days=model.config.min_history_days,
            earlier=earlier,
        )
        # Evidence: the principal's events in the window, not only each value's first use.
        hits = hits.assign(detector="first-seen", resource=None, event_ids=None)
        hits["title"] = principal_title("first-seen", hits)
        parts.append(hits)
    if "dormant-identity" in detectors:
        # Every row, cold-start ones too: a key used once and then forgotten is the case.
        hits = dormant_candidates(features, new, history, config, earlier)
        hits = hits.assign(detector="dormant-identity", resource=None)
        hits["title"] = principal_title("dormant-identity", hits)
        parts.append(hits)
    found = {str(p["detector"].iloc[0]): len(p) for p in parts if len(p)}
    return PrincipalCandidates(_candidates(parts), len(unscored.drop_duplicates()), found)


def volume_hits(
    counts: pd.DataFrame,
    model: AnomalyModel,
    config: AnomalyConfig,
    *,
    changes: pd.DataFrame | None = None,
    detectors: tuple[str, ...] = DETECTORS,
    span: tuple[datetime, datetime] | None = None,
) -> pd.DataFrame:
    """Volume and denial-of-wallet candidates of ``volume_counts`` (summed over every batch of
    the run: counts add up, so partitions count their part and the run calls this once).
    ``changes``: functions' ``config_changes`` up to the run's end (cost at risk). With wallet
    baselines in the model, function invocations are denial-of-wallet's, not volume's.
    ``span``: the hours the counts cover (the scored day), where drops are looked for; by
    default the counts' first to last window; drops need ``DROP_MIN_HOURS`` of it."""
    parts = []
    wallet = model.wallet if len(model.wallet) else None
    if "volume" in detectors:
        series = counts[counts["kind"] != "function"] if wallet is not None else counts
        hits = volume_candidates(series, model.volume, config)
        parts.append(_series_hits(hits, "volume", volume_title, principals=True))
    if "denial-of-wallet" in detectors and wallet is not None:
        known = changes if changes is not None else no_changes()
        hits = wallet_candidates(counts, wallet, known, config)
        parts.append(_series_hits(hits, "denial-of-wallet", wallet_title))
    if "volume-drop" in detectors and wallet is not None and len(counts):
        start, end = span or (
            counts["window"].min().to_pydatetime(),
            (counts["window"].max() + pd.Timedelta(hours=1)).to_pydatetime(),
        )
        if end - start >= DROP_MIN_HOURS:
            hits = volume_drops(counts, wallet, start, end, config)
            parts.append(_series_hits(hits, "volume-drop", drop_title))
    return _candidates(parts)


def _series_hits(
    hits: pd.DataFrame,
    detector: str,
    titles: Callable[[pd.DataFrame], list[str]],
    *,
    principals: bool = False,
) -> pd.DataFrame:
    """A series detector's candidates as alert candidates: a function's series names it as the
    resource, a principal's (``principals``: only volume keeps them) as the principal."""
    hits = hits.assign(
        detector=detector,
        principal=hits["key"].where(hits["kind"] == "principal", None) if principals else None,
        resource=hits["key"].where(hits["kind"] == "function", None),
        event_ids=None,
    )
    hits["title"] = titles(hits)
    return hits


DROP_MIN_HOURS = timedelta(hours=6)
"""Drops are looked for over spans this long at least: a micro-batch of minutes is no day."""


def _candidates(parts: list[pd.DataFrame]) -> pd.DataFrame:
    kept = [p.reindex(columns=CANDIDATE_COLUMNS) for p in parts if len(p)]
    if not kept:
        return pd.DataFrame(columns=CANDIDATE_COLUMNS)
    return pd.concat(kept, ignore_index=True)


def detect_anomalies(
    events: pd.DataFrame,
    model: ModelRegistry | AnomalyModel,
    *,
    history: PrincipalHistory | None = None,
    config: AnomalyConfig | None = None,
    detectors: tuple[str, ...] = DETECTORS,
    changes: pd.DataFrame | None = None,
) -> AnomalyRun:
    """Score ``events`` with the registry's active model (or the given one), as one batch.

    ``history`` is the principals' past before these events; by default the model's own (as of
    the end of its training span). ``changes``: functions' ``config_changes`` up to these
    events (denial-of-wallet's cost); by default those of the events themselves. The daily job
    runs the same pieces per partition and settles volume and the alert guard once per day
    (``service.scoring.anomalies``).
    """
    config = config or AnomalyConfig()
    if isinstance(model, ModelRegistry):
        model = model.load()
    history = history if history is not None else model.history
    window = model.config.window
    if events.empty:
        return AnomalyRun([], model.version)

    principal = principal_candidates(
        events, model, history=history, config=config, detectors=detectors
    )
    parts = [principal.frame]
    found = dict(principal.found)
    if any(d in detectors for d in SERIES_DETECTORS):
        if changes is None and "raw" in events.columns:
            changes = config_changes(events)
        series = volume_hits(
            volume_counts(events, window=window), model, config, changes=changes,
            detectors=detectors,
        )  # fmt: skip
        parts.append(series)
        found.update({str(k): int(v) for k, v in series["detector"].value_counts().items()})
    candidates = _candidates(parts)
    kept, held_back = guard(candidates, config.max_alerts)
    is_volume = kept["detector"].isin(SERIES_DETECTORS).to_numpy(bool)
    alerts = build_alerts(
        kept[~is_volume], with_principal(events), window=window, evidence_ids=config.evidence_ids
    ) + build_alerts(kept[is_volume], events, window=window, evidence_ids=config.evidence_ids)
    return AnomalyRun(
        alerts=fold(alerts),
        model_version=model.version,
        held_back=held_back,
        unscored=principal.unscored,
        candidates=found,
    )


__all__ = [
    "DETECTORS",
    "SERIES_DETECTORS",
    "AnomalyConfig",
    "AnomalyRun",
    "NoTrainedModel",
    "PrincipalCandidates",
    "PrincipalParts",
    "detect_anomalies",
    "principal_candidates",
    "principal_hits",
    "principal_parts",
    "volume_drops",
    "volume_hits",
]
