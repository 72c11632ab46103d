"""What the app holds for its lifetime: settings, database, key secret and key cache, limits,
counters, the audit writer, and the push log with its writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from pipelines.lake import EventLake
from pipelines.pushlog import PushLog
from pipelines.settings import Settings
from service.alerts.listing import RenderedAlerts
from service.api.limits import ApiLimits
from service.api.metrics import Metrics
from service.api.ratelimit import RateLimiter
from service.async_reads import AsyncReads
from service.audit.writer import AuditWriter
from service.db import Database
from service.ingest.drainer import PushDrainer
from service.keys.cache import KeyCache
from service.watch.loop import Watcher

if TYPE_CHECKING:
    from detectors.rules.loader import Loaded


@dataclass
class ApiState:
    settings: Settings
    db: Database
    key_secret: bytes
    limits: ApiLimits
    limiter: RateLimiter
    metrics: Metrics
    audit: AuditWriter
    keys: KeyCache
    pushlog: PushLog
    """where POST /v1/events appends (durable before it answers)"""
    drainer: PushDrainer
    """moves pushed records to the lake while this process holds the writer lease"""
    reads: AsyncReads | None = None
    """PostgreSQL: the hot list's connections on the event loop (None on SQLite)"""
    watcher: Watcher | None = None
    """the near-real-time watcher of ``FUNCTRAIL_WATCH_SOURCES`` (None: not set)"""
    rendered: RenderedAlerts = field(default_factory=RenderedAlerts)
    """the list's alert JSON by (id, updated_at), for this process"""
    db_slots: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(4))
    """threads the hot list may hold at once: within the engine's pool (5), so no connection
    is opened per request, and few enough that 50 clients queue instead of thrashing"""
    push_slots: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(2))
    """pushes decompressed and parsed at once in this process: bounds their memory together"""
    lake_slots: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(2))
    """event searches scanning the lake at once: each holds row groups in memory, and two
    already keep both cores busy"""
    cache: dict[str, Any] = field(default_factory=dict)
    """loaded once on first use: the rule pack, the event lake searches read"""

    def lake(self) -> EventLake:
        """The one lake object of this process (``/v1/events``, ``/v1/coverage``)."""
        lake = self.cache.get("lake")
        if lake is None:
            lake = self.cache["lake"] = EventLake(self.settings.lake_root)
        assert isinstance(lake, EventLake)
        return lake

    def rules(self) -> Loaded:
        """The pack and the user's rules (``rules_dir``), as the score job loads them: loaded
        once per process on first use (they do not change while serving; the loader and
        pySigma are imported only then)."""
        if "rules" not in self.cache:
            from detectors.rules.loader import load_rules

            folder = self.settings.rules_dir
            self.cache["rules"] = load_rules(
                [folder] if folder else [], cache_dir=self.settings.rule_cache_dir
            )
        loaded: Loaded = self.cache["rules"]
        return loaded
