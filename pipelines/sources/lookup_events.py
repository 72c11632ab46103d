"""CloudTrail LookupEvents (``cloudtrail://REGION``): the last 90 days of management events.

The API allows 2 requests per second per account and region and pages of at most 50 events,
so a day can take hundreds of calls: a token bucket paces every HTTP attempt (retries too),
and botocore retries throttling with backoff. Page tokens do not survive across runs, so the
range is cut into time windows and the checkpoint keeps the end of the last window whose
pages are all stored. Events reach LookupEvents up to ~15 minutes late, so the checkpoint
never moves past ``fetch time - settle``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import orjson
from botocore.config import Config

from pipelines.checkpoints import Checkpoint
from pipelines.settings import Settings
from pipelines.sources.base import Blob, BlobRef
from pipelines.sources.resumable import as_utc

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=90)
PAGE_SIZE = 50
"""The API's maximum ``MaxResults``."""


class TokenBucket:
    """At most ``rate`` acquisitions per second on average, bursts up to ``burst``."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until there is one; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            self._tokens -= 1
            if wait:
                self._sleep(wait)
            return wait


@dataclass(frozen=True, slots=True)
class _Page:
    window_end: datetime
    last: bool


class LookupEventsSource:
    """LookupEvents of one region, window by window, one blob (``{"Events": [...]}``) per page."""

    def __init__(
        self,
        uri: str,
        settings: Settings,
        *,
        full: bool = False,
        endpoint_url: str | None = None,
        window: timedelta = timedelta(hours=1),
        rate: float = 2.0,
        max_attempts: int = 10,
        settle: timedelta = timedelta(minutes=15),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not uri.startswith("cloudtrail://"):
            raise ValueError(f"not a cloudtrail:// URI: {uri}")
        region = uri[len("cloudtrail://") :].strip("/")
        if not region:
            raise ValueError(f"cloudtrail URI has no region: {uri}")
        self.uri = uri
        self.region = region
        self.window = window
        self.settle = settle
        self._now = now
        self.limiter = TokenBucket(rate)
        self.client = boto3.client(
            "cloudtrail",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": max_attempts}),
        )
        # before-send fires for every HTTP attempt, so retries are paced as well.
        self.client.meta.events.register("before-send.cloudtrail.LookupEvents", self._pace)
        self.checkpoint = Checkpoint(settings.checkpoints_dir, uri, ignore_saved=full)
        self._pending: dict[str, _Page] = {}
        self._fetched_at: datetime | None = None
        self.requests = 0

    def _pace(self, **_: Any) -> None:
        self.requests += 1
        self.limiter.acquire()

    def blobs(self, start: datetime, end: datetime) -> Iterator[Blob]:
        """Pages of events in ``[start, end)`` after the checkpoint, within the 90-day lookback."""
        self._fetched_at = self._now()
        start, end = as_utc(start), min(as_utc(end), self._fetched_at)
        oldest = self._fetched_at - LOOKBACK
        if start < oldest:
            log.warning(
                "%s: LookupEvents keeps 90 days; starting at %s instead of %s",
                self.uri,
                oldest.isoformat(),
                start.isoformat(),
            )
            start = oldest
        saved = self.checkpoint.state.get("done_until")
        if saved:
            start = max(start, datetime.fromisoformat(saved))
        paginator = self.client.get_paginator("lookup_events")
        window_start = start
        while window_start < end:
            window_end = min(window_start + self.window, end)
            # EndTime is inclusive and event times are whole seconds: stop a second short so
            # an event on a window edge is read once, by the next window.
            pages = paginator.paginate(
                StartTime=window_start,
                EndTime=window_end - timedelta(seconds=1),
                PaginationConfig={"PageSize": PAGE_SIZE},
            )
            number = 0
            previous: Any = None
            for page in pages:
                if previous is not None:
                    yield self._blob(previous, window_start, window_end, number, last=False)
                    number += 1
                previous = page
            yield self._blob(previous or {}, window_start, window_end, number, last=True)
            window_start = window_end

    def _blob(
        self, page: dict[str, Any], start: datetime, end: datetime, number: int, *, last: bool
    ) -> Blob:
        name = f"{self.uri}/{start:%Y-%m-%dT%H:%M:%SZ}..{end:%Y-%m-%dT%H:%M:%SZ}#page{number}"
        self._pending[name] = _Page(end, last)
        data = orjson.dumps({"Events": page.get("Events", [])})  # datetimes -> RFC 3339
        return Blob(name=name, data=data)

    def mark_done(self, blob: BlobRef) -> None:
        """After the last page of a window: checkpoint its end (capped at fetch time - settle)."""
        page = self._pending.pop(blob.name, None)
        if page is None or not page.last:
            return
        settled = (self._fetched_at or self._now()) - self.settle
        done_until = min(page.window_end, settled)
        saved = self.checkpoint.state.get("done_until")
        if saved and datetime.fromisoformat(saved) >= done_until:
            return
        self.checkpoint.state["done_until"] = done_until.isoformat()
        self.checkpoint.save()
