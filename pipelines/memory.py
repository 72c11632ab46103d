"""How functrail's processes take memory from the OS and hand it back.

Hand memory a finished batch no longer uses back to the OS, between batches of a long job.

Freed memory does not leave the process by itself: Arrow's allocator (mimalloc) keeps freed
pages for reuse, and glibc's malloc keeps the freed top of its heap, where Python puts the
blobs' bytes and the raw records joined for decoding. Ingesting a 1M-event day left ~390 MB
in mimalloc and ~40 MB in glibc's free lists after the last batch with nothing allocated, and
the next batch's peak came on top of it. Releasing after each batch costs ~1 ms.

Take memory in small pages: mimalloc 3 (Arrow's allocator in the wheels) commits its arenas
eagerly, and Linux backs such a region with transparent huge pages when THP is on, even in
the common ``madvise`` mode. Every huge page is zeroed whole, and with ``defrag`` on
``madvise`` its fault can wait for compaction: at 288k events ``functrail detect`` took 211
huge-page faults and ~1.0 s of system time, ~0.6 s with eager commit off (median of 5, one
process; user time unchanged, peak RSS 985 -> 910 MiB).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from functools import cache

EAGER_COMMIT = "MIMALLOC_ARENA_EAGER_COMMIT"
"""mimalloc's option (read once, when Arrow's library loads): 0 commits arena memory as it is
first used, in the kernel's normal pages"""


def small_pages() -> bool:
    """Ask Arrow's allocator to commit memory as it is used (an operator's own setting wins).

    False when pyarrow is already imported (a test, a caller embedding functrail): mimalloc
    read its options when the library loaded, so asking now would change nothing.
    """
    if "pyarrow" in sys.modules:
        return False
    os.environ.setdefault(EAGER_COMMIT, "0")
    return True


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """glibc's ``malloc_trim`` (None on other C libraries, e.g. musl or macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


def release_freed() -> None:
    """Return freed but retained pages of Arrow's pool and of glibc's heap to the OS."""
    import pyarrow as pa  # here, so ``small_pages`` can be imported before pyarrow is

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
