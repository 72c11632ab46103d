"""The in-process cache of verified keys: expiry (revocation window) and bounded size."""

from __future__ import annotations

import asyncio

from service.keys.cache import KeyCache, Lookup
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


def _lookups(answer: KeyIdentity | None, calls: list[str]):
    """A lookup factory that counts its calls and yields to the loop like a thread hop."""

    def lookup_for(name: str):
        async def lookup() -> KeyIdentity | None:
            calls.append(name)
            await asyncio.sleep(0)
            return answer

        return lookup

    return lookup_for


def test_concurrent_misses_for_one_key_share_one_store_lookup():
    calls: list[str] = []
    cache = KeyCache()
    lookup = _lookups(ONE, calls)

    async def burst() -> list[KeyIdentity | None]:
        return list(await asyncio.gather(*(cache.identify("d", lookup("d")) for _ in range(20))))

    assert asyncio.run(burst()) == [ONE] * 20
    assert calls == ["d"]
    assert cache.get("d") == ONE


def test_a_key_in_use_is_checked_again_in_the_background_before_it_expires():
    now = [100.0]
    calls: list[str] = []
    cache = KeyCache(ttl=5.0, clock=lambda: now[0], refresh_between=(0.5, 0.5))
    cache.put("d", ONE)

    async def use_at(t: float, answer: KeyIdentity | None) -> KeyIdentity | None:
        now[0] = t
        identity = await cache.identify("d", _lookups(answer, calls)("d"))
        await asyncio.sleep(0.01)  # the background check finishes
        return identity

    assert asyncio.run(use_at(102.4, ONE)) == ONE
    assert calls == []  # before the refresh point: memory only
    assert asyncio.run(use_at(102.6, TWO)) == ONE  # answered from memory at once ...
    assert calls == ["d"]
    assert cache.get("d") == TWO  # ... and the entry was replaced by the fresh check
    now[0] = 107.0  # past the first entry's expiry: the refreshed one still lives
    assert cache.get("d") == TWO


def _due_for_refresh(now: list[float]) -> KeyCache:
    """A cache whose one entry ("d", checked at 0, TTL 5 s) is past its refresh point (3 s)."""
    cache = KeyCache(ttl=5.0, clock=lambda: now[0], refresh_between=(0.5, 0.5))
    cache.put("d", ONE)
    now[0] = 3.0
    return cache


def _use(cache: KeyCache, lookup: Lookup) -> KeyIdentity | None:
    """One request's answer, after which its background check has run."""

    async def use() -> KeyIdentity | None:
        identity = await cache.identify("d", lookup)
        await asyncio.sleep(0.01)
        return identity

    return asyncio.run(use())


def test_a_background_check_that_finds_the_key_revoked_removes_it():
    cache = _due_for_refresh([0.0])
    assert _use(cache, _lookups(None, [])("d")) == ONE  # the request in flight had its answer
    assert cache.get("d") is None  # the next one goes to the store, well within the TTL


def test_a_failed_background_check_leaves_the_entry_to_its_ttl():
    now = [0.0]
    cache = _due_for_refresh(now)

    async def failing() -> KeyIdentity | None:
        raise ConnectionError("database is down")

    assert _use(cache, failing) == ONE
    assert cache.get("d") == ONE
    now[0] = 5.0
    assert cache.get("d") is None


def test_refresh_points_are_spread_so_keys_checked_together_do_not_refresh_together():
    now = [0.0]
    calls: list[str] = []
    cache = KeyCache(ttl=10.0, clock=lambda: now[0], refresh_between=(0.5, 0.8))
    for i in range(200):
        cache.put(f"d{i}", ONE)
    lookup = _lookups(ONE, calls)

    async def use_all_at(t: float) -> None:
        now[0] = t
        for i in range(200):
            await cache.identify(f"d{i}", lookup(f"d{i}"))
        await asyncio.sleep(0.01)

    asyncio.run(use_all_at(4.99))
    assert calls == []
    asyncio.run(use_all_at(6.5))  # halfway through the window: about half are due
    early = set(calls)
    assert 40 < len(early) < 160
    calls.clear()
    asyncio.run(use_all_at(8.0))  # the window's end: the rest, each checked once
    assert sorted(calls) == sorted({f"d{i}" for i in range(200)} - early)


def test_a_check_left_pending_by_a_finished_loop_is_not_awaited_on_a_new_one():
    calls: list[str] = []
    cache = KeyCache()
    lookup = _lookups(ONE, calls)

    left: list[asyncio.Future[KeyIdentity | None]] = []

    async def abandon() -> None:
        async def never() -> KeyIdentity | None:
            await asyncio.sleep(3600)
            return None

        left.append(asyncio.ensure_future(cache.identify("d", never)))
        await asyncio.sleep(0)  # the check starts, then its loop ends

    loop = asyncio.new_event_loop()
    loop.run_until_complete(abandon())
    loop.close()  # stopped with the check still pending, its callbacks never run
    assert asyncio.run(asyncio.wait_for(cache.identify("d", lookup("d")), 5)) == ONE
    assert calls == ["d"]


def test_an_entry_lives_ttl_from_the_start_of_its_lookup_not_its_end():
    now = [100.0]
    cache = KeyCache(ttl=1.0, clock=lambda: now[0])

    async def slow_lookup() -> KeyIdentity | None:
        now[0] += 0.7  # the store answered 0.7 s after it was asked
        return ONE

    assert asyncio.run(cache.identify("d", slow_lookup)) == ONE
    now[0] = 100.99
    assert cache.get("d") == ONE
    now[0] = 101.0  # 1 s after the lookup began, though only 0.3 s after it ended
    assert cache.get("d") is None


def test_the_default_ttl_is_one_second():
    assert KeyCache().ttl == 1.0
