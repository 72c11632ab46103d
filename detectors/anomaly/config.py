"""Tunable knobs of the anomaly detectors, with the reasons for their defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

KIND_WEIGHTS: Final = {
    "action": 0.35,
    "action_family": 0.6,
    "source_ip": 0.3,
    "network": 0.5,
    "wide_network": 0.8,
    "user_agent": 0.6,
    "region": 0.9,
    "dormancy": 0.7,
    "new principal": 0.9,
}
"""How much a first use of each kind says on its own: a new region or /16 is rarer and riskier
than a new API call; a new address inside a known /24 says little."""


@dataclass(frozen=True)
class AnomalyConfig:
    """Thresholds and guards; the model's own threshold comes from training, not from here."""

    max_alerts: int = 50
    """Alert-volume guard per run: keep the highest scores, report how many were held back."""
    first_seen_threshold: float = 0.6
    settle_days: int = 14
    """A principal with this many active days has a settled history (full first-seen weight)."""
    novelty_rate_scale: float = 3.0
    """Surprise = exp(-scale * past new values per day): routine novelty stops being news."""
    dormant_days: float = 7.0
    """A principal silent this many days is dormant: its return is a first-seen signal, and an
    alert (``dormant-identity``) with sensitive actions or a new address or tool."""
    dormant_quiet_factor: float = 2.0
    """A return with nothing sensitive, only a new address or tool, alerts after this multiple of
    ``dormant_days`` of silence (people come back from leave on new addresses)."""
    dormant_routine_rate: float = 0.5
    """A kind of value (address, network, tool) a principal picks up this many new values of a
    day, or more, is routine for it: new ones on return from dormancy say nothing."""
    dormant_unseen_watch_days: float = 3.0
    """A principal never seen, in an account watched at least this long, was silent the whole
    watch: dormant too when its first window touches secrets, IAM, function code or logging."""
    volume_mads: float = 8.0
    """A window alerts above median + this many robust standard deviations (1.4826 MAD) ..."""
    volume_p99_factor: float = 2.0
    """... and above this multiple of the baseline's 99th percentile ..."""
    volume_min_events: int = 50
    """... and with at least this many events (errors), so tiny series stay quiet."""
    error_rate_factor: float = 4.0
    """An error rate (errors / calls, per principal, function or action) alerts at this multiple
    of its baseline's pooled rate ..."""
    error_rate_margin: float = 0.5
    """... and at least this much above it ..."""
    error_rate_min_errors: int = 20
    """... with at least this many failed calls in the window."""
    drop_ratio: float = 0.1
    """A function's invocations, or an account's every event, over a scored span at or below
    this share of the baseline's expectation for those hours is a drop ..."""
    drop_min_expected: float = 200.0
    """... when the baseline expected at least this many (quiet series' gaps are no news)."""
    wallet_factor: float = 5.0
    """Denial of wallet: a function's (account's) invocations in an hour alert at this multiple of
    its usual for that hour of the week (of the day, with less than two weeks of baseline) ..."""
    wallet_peak_factor: float = 2.0
    """... and at this multiple of the highest hour it had at that hour of day ..."""
    wallet_min_invocations: int = 100
    """... and with at least this many invocations, so small functions' bursts stay quiet."""
    wallet_min_days: int = 2
    """Series with fewer days of baseline are not scored (cold start)."""
    evidence_ids: int = 200
    """Event ids an anomaly alert carries at most (the window's events can be many)."""
    kind_weights: dict[str, float] = field(default_factory=lambda: dict(KIND_WEIGHTS))
    series_floors: dict[tuple[str, str, str, str], tuple[float, str]] = field(default_factory=dict)
    """(provider, account, ``kind:key``, measure) -> (floor, note): false-positive verdicts
    raised these series' alert bars (``models.verdicts.series_floors``)."""
    principal_notes: dict[tuple[str, str, str], str] = field(default_factory=dict)
    """(provider, account, principal) -> note: false-positive verdicts made values known to
    these principals; later first-seen alerts on them say so."""
