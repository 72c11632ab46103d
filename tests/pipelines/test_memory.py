"""Freed memory goes back to the OS between batches, not only when the process ends."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pyarrow as pa
import pytest

from pipelines.memory import EAGER_COMMIT, release_freed, small_pages


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


_POOL_OPTIONS = """
from pipelines.memory import small_pages
assert small_pages()
import pyarrow as pa
print(pa.default_memory_pool().backend_name)
"""


def _pool_options(env: dict[str, str]) -> tuple[str, str]:
    """The pool a fresh process gets after ``small_pages``, and what mimalloc said of its
    options (``MIMALLOC_VERBOSE``: printed when the library loads)."""
    inherited = {k: v for k, v in os.environ.items() if k != EAGER_COMMIT}
    done = subprocess.run(
        [sys.executable, "-c", _POOL_OPTIONS],
        env={**inherited, "MIMALLOC_VERBOSE": "1", **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip(), done.stderr


@pytest.mark.skipif(
    pa.default_memory_pool().backend_name != "mimalloc", reason="Arrow built without mimalloc"
)
def test_small_pages_turns_off_mimallocs_eager_commit_before_arrow_loads() -> None:
    backend, said = _pool_options({})
    assert backend == "mimalloc"
    assert "option 'arena_eager_commit': 0" in said


@pytest.mark.skipif(
    pa.default_memory_pool().backend_name != "mimalloc", reason="Arrow built without mimalloc"
)
def test_small_pages_leaves_an_operators_own_setting() -> None:
    _, said = _pool_options({EAGER_COMMIT: "1"})
    assert "option 'arena_eager_commit': 1" in said


def test_small_pages_says_it_is_too_late_once_pyarrow_is_loaded() -> None:
    assert "pyarrow" in sys.modules  # this module imported it
    before = os.environ.get(EAGER_COMMIT)
    assert small_pages() is False
    assert os.environ.get(EAGER_COMMIT) == before
