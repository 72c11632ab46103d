"""Detection over one partition: the unit of work a local loop or a Dask worker runs.

Takes and returns plain picklable values (a Partition, Settings, Alerts), opens the lake and
the model registry itself, so a worker needs only the package and paths it can reach.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson
import pandas as pd

from detectors.alert import Alert
from detectors.rules.engine import run_rules, run_rules_deferring_correlations
from detectors.rules.loader import load_registry
from detectors.rules.registry import RuleRegistry
from detectors.rules.windows import SlicedCorrelations
from models.day_summaries import DaySummaries
from pipelines.features import EarlierWindows, PrincipalHistory, add_volume_counts, volume_counts
from pipelines.features.keys import with_principal
from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.scoring.partitions import Partition, RawFetcher, read_partition

if TYPE_CHECKING:
    from detectors.anomaly import AnomalyConfig, PrincipalParts
    from models.bundle import AnomalyModel


@dataclass
class PartResult:
    """What one partition found: rule alerts, the anomaly detectors' pieces the run settles
    (``service.scoring.anomalies``), how many events it held, notes for the run's summary."""

    alerts: list[Alert]
    events: int
    notes: list[str] = field(default_factory=list)
    model_version: str | None = None
    correlation_rows: list[str] = field(default_factory=list)
    """Split partitions only: ids of the rows deferred correlations build on (``merge``)."""
    summary: PrincipalHistory | None = None
    """With an active model: what the partition's principals did, for the day's summary."""
    anomalies: list[Alert] = field(default_factory=list)
    """Per-principal anomaly alerts of the candidates that passed the partition's own guard."""
    anomaly_ranks: list[tuple[float, str]] = field(default_factory=list)
    """(score, ``rank_keys``) of each of ``anomalies``: the day's guard ranks them again."""
    anomaly_candidates: int = 0
    """Per-principal candidates before any guard (the day's held-back count)."""
    volume: pd.DataFrame | None = None
    """``volume_counts`` of the partition: the run sums them and scores volume once."""


@functools.lru_cache(maxsize=4)
def _rules(
    folders: tuple[Path, ...], cache_dir: Path | None
) -> tuple[RuleRegistry, tuple[str, ...]]:
    """Loaded once per process (a worker runs many partitions), compiled rules read from the
    plan cache when it is on (a cold compile of the pack and SigmaHQ's rules is seconds)."""
    registry, errors = load_registry(list(folders), cache_dir=cache_dir)
    return registry, tuple(f"rule not loaded: {e.line()}" for e in errors)


def detect_partition(
    part: Partition, settings: Settings, enabled: Mapping[str, bool] | None = None
) -> PartResult:
    """Every enabled rule and the active anomaly model's per-principal detectors over the
    partition's events, one time slice after another (most partitions are one slice).

    ``enabled`` is the admins' on/off map from the store (``service.rules.store.rule_states``),
    read once by the job and passed in, since a Dask worker has no database session. A sliced
    partition defers every correlation (their windows cross slices): those grouped by principal
    are streamed across its slices (``SlicedCorrelations``: only their firing windows' rows are
    deferred), the others' base rows are deferred whole. It also carries what its principals
    did in earlier slices to the next (``EarlierWindows``), so nothing depends on where the
    cuts fall; only one slice's events (and the correlations' last ``timespan`` of base rows)
    are held at a time.
    """
    lake = EventLake(part.lake_root)
    registry = rule_registry(settings, enabled)
    result = PartResult([], 0, list(_rules(_folders(settings), settings.rule_cache_dir)[1]))
    anomalies = _AnomalyPass.start(part, settings, result)
    whole_by = None if part.slices else "principal"
    windows = SlicedCorrelations(registry.active(), "principal") if part.slices else None
    pieces = part.time_slices()
    for number, piece in enumerate(pieces, start=1):
        events = read_partition(lake, piece)
        fetch = RawFetcher(lake, piece)
        result.events += len(events)
        if part.split:
            alerts, rows = run_rules_deferring_correlations(
                events, registry, whole_by=whole_by, raw_fetch=fetch, windows=windows, end=piece.end
            )
            result.alerts.extend(alerts)
            result.correlation_rows.extend(rows)
        else:
            result.alerts.extend(run_rules(events, registry, raw_fetch=fetch))
        if anomalies is not None:
            anomalies.add(
                events, fetch, piece, sliced=bool(part.slices), last=number == len(pieces)
            )
        del events
    if anomalies is not None:
        anomalies.finish(result)
    return result


def anomaly_window(settings: Settings) -> str:
    """What time slices are aligned to: ``minute`` without a model (rules settle across any
    cut) or with an hourly one (a principal-hour cut by minute is combined from its pieces'
    partial aggregates); ``day`` for a daily model (never sliced)."""
    from models.registry import ModelRegistry, NoTrainedModel

    try:
        window = ModelRegistry(settings.models_dir).load().config.window
    except NoTrainedModel:
        return "minute"
    return "minute" if window == "hour" else window


def cut_windows(part: Partition, model: AnomalyModel) -> frozenset[pd.Timestamp]:
    """The model's windows that a cut between the partition's time slices falls inside."""
    from pipelines.features.principal import WINDOWS

    length = WINDOWS[model.config.window]
    at = [pd.Timestamp(c) for c in part.slices]
    return frozenset(c.floor(length) for c in at if c != c.floor(length))


def _folders(settings: Settings) -> tuple[Path, ...]:
    return (settings.rules_dir,) if settings.rules_dir else ()


def rule_registry(settings: Settings, enabled: Mapping[str, bool] | None) -> RuleRegistry:
    """The loaded rules (cached per process) with the admins' on/off map applied."""
    return RuleRegistry(_rules(_folders(settings), settings.rule_cache_dir)[0], enabled)


def fill_raw(alerts: list[Alert], fetch: RawFetcher) -> None:
    """Put the records into evidence samples of a frame read without ``raw`` (as
    ``event_records`` decodes them)."""
    samples = [s for a in alerts for s in a.evidence.sample if s.get("raw") is None]
    if not samples:
        return
    found = fetch([str(s["id"]) for s in samples])
    for sample in samples:
        raw = found.get(str(sample["id"]))
        sample["raw"] = raw
        with contextlib.suppress(orjson.JSONDecodeError):
            sample["raw"] = orjson.loads(raw) if raw else None


@dataclass
class _AnomalyPass:
    """The active model's per-principal detectors over a partition's slices, in time order."""

    model: AnomalyModel
    history: PrincipalHistory
    config: AnomalyConfig
    lake_root: str
    cut: frozenset[pd.Timestamp]
    """Windows a time slice starts inside: scored once their last piece is read."""
    pending: list[PrincipalParts] = field(default_factory=list)
    earlier: EarlierWindows = field(default_factory=EarlierWindows.empty)
    summary: PrincipalHistory = field(default_factory=PrincipalHistory.empty)
    alerts: list[Alert] = field(default_factory=list)
    ranks: list[tuple[float, str]] = field(default_factory=list)
    candidates: int = 0
    volume: list[pd.DataFrame] = field(default_factory=list)

    @classmethod
    def start(cls, part: Partition, settings: Settings, result: PartResult) -> _AnomalyPass | None:
        try:
            from models.registry import ModelRegistry, NoTrainedModel
            from service.baselines.store import adjusted_history, anomaly_config
        except ImportError as exc:
            result.notes.append(f"anomaly detectors unavailable: {exc}")
            return None
        try:
            model = ModelRegistry(settings.models_dir).load()
        except NoTrainedModel as exc:
            result.notes.append(f"the anomaly detectors have no trained model ({exc}); rules only")
            return None
        # Yesterday's new addresses and agents are known today: the model's history moved on
        # through the days scored since training (models.day_summaries).
        history = DaySummaries(settings.models_dir).history_for(model, part.start.date())
        result.model_version = model.version
        # analysts' false-positive verdicts: values made known, series' bars raised
        history = adjusted_history(settings, history)
        config = anomaly_config(settings)
        return cls(model, history, config, part.lake_root, cut_windows(part, model))

    def add(
        self, events: pd.DataFrame, fetch: RawFetcher, piece: Partition, *, sliced: bool, last: bool
    ) -> None:
        """One slice (the next in time) of the partition: its whole principal-windows are scored
        at once; the pieces of a window a cut falls inside are kept (partial aggregates, new
        values) until the slice that completes it."""
        from detectors.anomaly import PrincipalParts, principal_hits, principal_parts
        from detectors.anomaly.alerts import build_alerts
        from pipelines.features.principal import finish_features

        window = self.model.config.window
        named = with_principal(events)
        earlier = self.earlier if sliced else None
        parts = principal_parts(
            named, self.model, history=self.history, earlier=earlier, cut=self.cut
        )
        whole = ~parts.aggregates["window"].isin(self.cut).to_numpy(bool)
        new_whole = ~parts.new["window"].isin(self.cut).to_numpy(bool)
        # Every row goes in, so a principal's first window of the slice is known (a newcomer
        # is new in its first window only); candidates of cut windows wait for all pieces.
        found = principal_hits(
            finish_features(parts.aggregates),
            parts.new,
            self.model,
            history=self.history,
            config=self.config,
            earlier=earlier,
        ).frame
        kept = self._guarded(found[~found["window"].isin(self.cut).to_numpy(bool)])
        alerts = build_alerts(kept, named, window=window, evidence_ids=self.config.evidence_ids)
        fill_raw(alerts, fetch)
        self.alerts.extend(alerts)
        if not whole.all() or not new_whole.all():
            self.pending.append(PrincipalParts(parts.aggregates[~whole], parts.new[~new_whole]))
        self._complete(None if last else piece.end, earlier)
        if len(events):
            self.volume.append(volume_counts(events, window=window))
        if sliced:
            self.earlier = self.earlier.then(named, window)
        self.summary = self.summary.merge(PrincipalHistory.from_events(named))

    def _guarded(self, candidates: pd.DataFrame) -> pd.DataFrame:
        """The candidates the day's guard may keep (the top of a total order: the top of each
        batch is all it can take from it), their ranks recorded."""
        from detectors.anomaly.alerts import guard, rank_keys

        kept, _ = guard(candidates, self.config.max_alerts)
        self.ranks.extend(zip(kept["score"].astype(float), rank_keys(kept), strict=True))
        self.candidates += len(candidates)
        return kept

    def _complete(self, until: datetime | None, earlier: EarlierWindows | None) -> None:
        """Score the kept windows that end by ``until`` (all when None) from their combined
        pieces; their evidence is read back from the lake by principal and window."""
        from detectors.anomaly import PrincipalParts, principal_hits
        from pipelines.features.principal import WINDOWS, combine_aggregates, finish_features
        from service.scoring.evidence import lake_alert

        if not self.pending:
            return
        rows = pd.concat([p.aggregates for p in self.pending], ignore_index=True)
        new = pd.concat([p.new for p in self.pending], ignore_index=True)
        length = pd.Timedelta(WINDOWS[self.model.config.window])

        def ended(frame: pd.DataFrame) -> np.ndarray:
            if until is None:
                return np.ones(len(frame), bool)
            return (frame["window"] + length <= until).to_numpy(bool)

        done_rows, done_new = ended(rows), ended(new)
        if not done_rows.any() and not done_new.any():
            return
        self.pending = [PrincipalParts(rows[~done_rows], new[~done_new])]
        found = principal_hits(
            finish_features(combine_aggregates(rows[done_rows])),
            new[done_new],
            self.model,
            history=self.history,
            config=self.config,
            earlier=earlier,
        )
        kept = self._guarded(found.frame)
        window = self.model.config.window
        for row in kept.to_dict("records"):
            self.alerts.append(lake_alert(self.lake_root, row, window, self.config.evidence_ids))

    def finish(self, result: PartResult) -> None:
        top = sorted(range(len(self.ranks)), key=lambda i: (-self.ranks[i][0], self.ranks[i][1]))
        top = sorted(top[: self.config.max_alerts])
        result.anomalies = [self.alerts[i] for i in top]
        result.anomaly_ranks = [self.ranks[i] for i in top]
        result.anomaly_candidates = self.candidates
        result.volume = add_volume_counts(self.volume)
        result.summary = self.summary
