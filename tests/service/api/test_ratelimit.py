"""The rate limit is one budget per key for every process of a data folder."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from service.api.ratelimit import PROBE, SLOTS, RateLimiter


def _takes(path: str, key: str, n: int, out) -> None:
    limiter = RateLimiter(rate=0.001, burst=10, path=Path(path))
    out.put(sum(1 for _ in range(n) if limiter.take(key) == 0))
    limiter.close()


def test_processes_sharing_a_data_folder_share_each_keys_budget(tmp_path):
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    path = str(tmp_path / "ratelimit.buckets")
    workers = [context.Process(target=_takes, args=(path, "key-1", 8, out)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    allowed = sum(out.get(timeout=5) for _ in workers)
    assert allowed == 10  # the burst, once: three processes alone would have allowed 24


def test_a_bucket_refills_at_the_rate():
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.5]
    now[0] = 0.5  # one token back
    assert limiter.take("k") == 0.0
    assert limiter.take("other") == 0.0  # keys do not share


def test_a_full_table_reuses_the_longest_idle_slot(tmp_path):
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=1, clock=lambda: now[0], path=tmp_path / "b")
    keys = [f"k{i}" for i in range(SLOTS + PROBE * 4)]
    for key in keys:  # more keys than slots: every take still answers
        now[0] += 1.0
        assert limiter.take(key) == 0.0
    assert limiter.take(keys[-1]) > 0  # the newest key kept its (spent) bucket


def test_a_stamp_from_before_a_reboot_is_a_full_bucket(tmp_path):
    path = tmp_path / "b"
    before = RateLimiter(rate=0.001, burst=1, clock=lambda: 5000.0, path=path)
    assert before.take("k") == 0.0
    after = RateLimiter(rate=0.001, burst=1, clock=lambda: 10.0, path=path)  # monotonic reset
    assert after.take("k") == 0.0
