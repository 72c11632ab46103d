"""Freed memory goes back to the OS between batches, not only when the process ends."""

from __future__ import annotations

import resource

import pyarrow as pa
import pytest

from pipelines.memory import release_freed


def _rss_mib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() // 2**20


@pytest.mark.skipif(
    pa.default_memory_pool().backend_name == "jemalloc",
    reason="jemalloc returns pages on its own decay timer, not on release_unused",
)
def test_release_freed_gives_back_what_arrow_kept_after_a_batch_was_dropped() -> None:
    batches = [pa.array(["x" * 900] * 20_000) for _ in range(16)]  # ~290 MB of strings
    assert pa.total_allocated_bytes() > 250 * 2**20
    del batches
    kept = _rss_mib()
    release_freed()
    assert kept - _rss_mib() > 150
