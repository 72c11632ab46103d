"""Options of the native libraries under pandas and Arrow, set before those libraries load.

Both are read once, from the environment, when the library is loaded, so ``main`` sets them
before any command imports numpy or pyarrow; an operator's own setting wins.

- Arrow's allocator, mimalloc 3 in the wheels, commits its arenas eagerly, and Linux backs
  such a region with transparent huge pages when THP is on, even in the common ``madvise``
  mode. Each huge page is zeroed whole, and with ``defrag`` on ``madvise`` its fault can wait
  for compaction. At 288k events ``functrail detect`` took 211 huge-page faults and ~1.0 s of
  system time; with eager commit off it takes none and ~0.6 s (median of 5, one process; user
  time unchanged, peak RSS 985 -> 910 MiB).
- numpy's OpenBLAS starts a thread per core when it loads, and they spin before they sleep:
  ~0.07 s of CPU on every start-up (``import numpy``: 0.19 -> 0.12 s). functrail's only
  model, an isolation forest, does no linear algebra. Dask sets the same for its workers.
"""

from __future__ import annotations

import os
import sys

OPTIONS: dict[str, str] = {
    "MIMALLOC_ARENA_EAGER_COMMIT": "0",
    "OPENBLAS_NUM_THREADS": "1",
}
"""environment variable -> the value functrail's processes default it to"""

_LIBRARIES = ("numpy", "pyarrow")


def set_native_options() -> bool:
    """Default ``OPTIONS`` in this process's environment; False when numpy or pyarrow is
    already imported (a test, a program embedding functrail), where it would change nothing."""
    if any(name in sys.modules for name in _LIBRARIES):
        return False
    for name, value in OPTIONS.items():
        os.environ.setdefault(name, value)
    return True
