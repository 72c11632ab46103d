"""The in-process cache of verified keys: expiry (revocation window) and bounded size."""

from __future__ import annotations

from service.keys.cache import KeyCache
from service.keys.store import KeyIdentity

ONE = KeyIdentity("id-1", "one", "viewer")
TWO = KeyIdentity("id-2", "two", "analyst")


def test_entry_expires_after_ttl_so_revocation_takes_effect():
    now = [100.0]
    cache = KeyCache(ttl=5.0, clock=lambda: now[0])
    cache.put("digest-1", ONE)
    now[0] = 104.99
    assert cache.get("digest-1") == ONE
    now[0] = 105.0
    assert cache.get("digest-1") is None
    assert len(cache) == 0


def test_unknown_digest_is_a_miss():
    assert KeyCache().get("never-seen") is None


def test_cache_is_bounded_and_drops_the_oldest_entry():
    cache = KeyCache(max_keys=2)
    cache.put("a", ONE)
    cache.put("b", TWO)
    cache.put("c", ONE)
    assert len(cache) == 2
    assert cache.get("a") is None
    assert (cache.get("b"), cache.get("c")) == (TWO, ONE)
