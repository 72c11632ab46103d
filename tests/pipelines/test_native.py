"""The native libraries' options are set before they load, and an operator's own win."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pyarrow as pa
import pytest

from pipelines.native import OPTIONS, set_native_options

_LOAD = """
import json
from pipelines.native import set_native_options
took = set_native_options()
import numpy, pyarrow  # loaded after the options are set
from threadpoolctl import threadpool_info
blas = [pool["num_threads"] for pool in threadpool_info() if pool["internal_api"] == "openblas"]
print(json.dumps({"took": took, "blas": blas}))
"""


def _fresh_process(env: dict[str, str]) -> tuple[dict[str, Any], str]:
    """What a fresh process that calls ``set_native_options`` first saw, and what mimalloc
    printed of its options when it loaded (``MIMALLOC_VERBOSE``)."""
    inherited = {k: v for k, v in os.environ.items() if k not in OPTIONS}
    done = subprocess.run(
        [sys.executable, "-c", _LOAD],
        env={**inherited, "MIMALLOC_VERBOSE": "1", **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout), done.stderr


_MIMALLOC = pytest.mark.skipif(
    pa.default_memory_pool().backend_name != "mimalloc", reason="Arrow built without mimalloc"
)


@_MIMALLOC
def test_arrows_allocator_commits_memory_as_it_is_used() -> None:
    seen, said = _fresh_process({})
    assert seen["took"] is True
    assert "option 'arena_eager_commit': 0" in said


def test_openblas_runs_one_thread() -> None:
    seen, _ = _fresh_process({})
    assert seen["blas"], "numpy without OpenBLAS: nothing to pin"
    assert seen["blas"] == [1] * len(seen["blas"])


@_MIMALLOC
def test_an_operators_own_settings_win() -> None:
    seen, said = _fresh_process({"MIMALLOC_ARENA_EAGER_COMMIT": "1", "OPENBLAS_NUM_THREADS": "2"})
    assert "option 'arena_eager_commit': 1" in said
    assert seen["blas"] == [2] * len(seen["blas"])


def test_once_the_libraries_are_loaded_it_changes_nothing() -> None:
    assert "pyarrow" in sys.modules  # this module imported it
    before = {name: os.environ.get(name) for name in OPTIONS}
    assert set_native_options() is False
    assert {name: os.environ.get(name) for name in OPTIONS} == before
