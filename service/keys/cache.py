"""Verified keys kept in memory for a few seconds, so a request's auth needs no database trip.

Entries are keyed by the HMAC of the presented key (never the key itself) and live ``ttl``
seconds: a key revoked in the database stops working within ``ttl`` in every API process.
Only successful checks are cached, so a key created a moment ago is never refused from here.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from service.keys.store import KeyIdentity

DEFAULT_TTL_SECONDS = 5.0
DEFAULT_MAX_KEYS = 10_000


class KeyCache:
    """A bounded, expiring map from key HMAC to the identity the database confirmed."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.max_keys, self.clock = ttl, max_keys, clock
        self._entries: OrderedDict[str, tuple[KeyIdentity, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> KeyIdentity | None:
        """The identity checked less than ``ttl`` ago, else None (the caller asks the store)."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            identity, expires = entry
            if self.clock() >= expires:
                del self._entries[digest]
                return None
            return identity

    def put(self, digest: str, identity: KeyIdentity) -> None:
        """Remember a check that passed; the oldest entry goes when the map is full."""
        with self._lock:
            self._entries[digest] = (identity, self.clock() + self.ttl)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
