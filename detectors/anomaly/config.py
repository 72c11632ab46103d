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
    dormant_days: float = 14.0
    volume_mads: float = 8.0
    """A window alerts above median + this many robust standard deviations (1.4826 MAD) ..."""
    volume_p99_factor: float = 2.0
    """... and above this multiple of the baseline's 99th percentile ..."""
    volume_min_events: int = 50
    """... and with at least this many events (errors), so tiny series stay quiet."""
    evidence_ids: int = 200
    """Event ids an anomaly alert carries at most (the window's events can be many)."""
    kind_weights: dict[str, float] = field(default_factory=lambda: dict(KIND_WEIGHTS))
