"""Start-up objects (modules, classes, compiled rules) live as long as the process: the garbage
collector should neither hunt them while they are made nor walk them again afterwards.

Collections triggered while ``functrail detect`` imported pandas and the engine and read the
rule plans cost ~0.13 s of its ~1.1 s on a one-file run (each full collection walks every
object made so far, and start-up makes hundreds of thousands). ``lifelong()`` pauses
collection over such a stretch and then freezes what exists (``gc.freeze``): later
collections skip it, including those over a large batch of events.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def lifelong() -> Iterator[None]:
    """No garbage collection inside; on leaving, every object alive is frozen out of later
    collections (a cycle left as garbage inside stays in memory: start-up makes few) and
    collection resumes if it was on."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
