"""What the app holds for its lifetime: settings, database, key secret, limits, counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipelines.settings import Settings
from service.api.limits import ApiLimits
from service.api.metrics import Metrics
from service.api.ratelimit import RateLimiter
from service.db import Database


@dataclass
class ApiState:
    settings: Settings
    db: Database
    key_secret: bytes
    limits: ApiLimits
    limiter: RateLimiter
    metrics: Metrics
    cache: dict[str, Any] = field(default_factory=dict)
    """loaded once on first use: the rule pack"""
