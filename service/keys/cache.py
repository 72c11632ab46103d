"""Verified keys kept in memory for a few seconds, so a request's auth needs no database trip.

Entries are keyed by the HMAC of the presented key (never the key itself) and live ``ttl``
seconds (1 s) from the moment their store lookup *began*: the lookup saw the database as of
then, so a key revoked at time R is refused by every API process from R + ``ttl`` on, however
long a lookup took (measured from its end, a slow lookup stretched the window; the review saw a
revoked key accepted ~1.6 s later). Only successful checks are cached, so a key created a
moment ago is never refused from here.

A key in use is checked again in the background before its entry expires, at a point drawn
between ``refresh_between`` of the TTL: under load every key was first checked in the same
instant, and without the spread and the early check all of them expired together and every
worker stalled on a burst of store lookups every TTL (p99 70-85 ms against a 25 ms median at
50 busy clients). One lookup per key is in flight at a time; concurrent misses share it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from service.keys.store import KeyIdentity

log = logging.getLogger("functrail.keys")

DEFAULT_TTL_SECONDS = 1.0
DEFAULT_MAX_KEYS = 10_000
DEFAULT_REFRESH_BETWEEN = (0.5, 0.8)

Lookup = Callable[[], Awaitable[KeyIdentity | None]]
"""Asks the store about one presented key: its identity, or None (unknown or revoked)."""


@dataclass(frozen=True, slots=True)
class _Entry:
    identity: KeyIdentity
    refresh_at: float
    expires: float


class KeyCache:
    """A bounded, expiring map from key HMAC to the identity the database confirmed."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
        refresh_between: tuple[float, float] = DEFAULT_REFRESH_BETWEEN,
    ) -> None:
        self.ttl, self.max_keys, self.clock = ttl, max_keys, clock
        self.refresh_between = refresh_between
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._checks: dict[str, asyncio.Future[KeyIdentity | None]] = {}

    async def identify(self, digest: str, lookup: Lookup) -> KeyIdentity | None:
        """The identity for ``digest``: from memory while its entry lives, else from ``lookup``.

        A live entry past its refresh point answers at once and starts one background check,
        which replaces the entry or, for a revoked key, removes it.
        """
        entry = self._live(digest)
        pending = self._checks.get(digest)
        if pending is not None and pending.get_loop() is not asyncio.get_running_loop():
            pending = None  # left by a finished loop (a test client runs each call on its own)
        if entry is None:
            return await asyncio.shield(pending or self._check(digest, lookup))
        if self.clock() >= entry.refresh_at and pending is None:
            self._check(digest, lookup).add_done_callback(_log_failure)
        return entry.identity

    def get(self, digest: str) -> KeyIdentity | None:
        """The identity checked less than ``ttl`` ago, else None (the caller asks the store)."""
        entry = self._live(digest)
        return None if entry is None else entry.identity

    def put(self, digest: str, identity: KeyIdentity, *, checked_at: float | None = None) -> None:
        """Remember a check that passed (begun at ``checked_at``, default now); the oldest
        entry goes when the map is full."""
        now = self.clock() if checked_at is None else checked_at
        low, high = self.refresh_between
        entry = _Entry(identity, now + self.ttl * random.uniform(low, high), now + self.ttl)
        with self._lock:
            self._entries[digest] = entry
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)

    def drop(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, digest: str) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None and self.clock() >= entry.expires:
                del self._entries[digest]
                return None
            return entry

    def _check(self, digest: str, lookup: Lookup) -> asyncio.Future[KeyIdentity | None]:
        async def check() -> KeyIdentity | None:
            began = self.clock()
            identity = await lookup()
            if identity is None:
                self.drop(digest)
            else:
                self.put(digest, identity, checked_at=began)
            return identity

        task = asyncio.ensure_future(check())
        self._checks[digest] = task
        task.add_done_callback(lambda _: self._checks.pop(digest, None))
        return task


def _log_failure(task: asyncio.Future[KeyIdentity | None]) -> None:
    """A failed background check leaves the entry to expire at its TTL, as if never refreshed."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("background key check failed: %s", exc)
