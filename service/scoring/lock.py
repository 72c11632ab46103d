"""One score run at a time per data folder: the lake has a single writer.

``functrail score`` and the in-service scheduler both hold ``FUNCTRAIL_HOME/score.lock`` while
they run. It is an ``flock``: the kernel frees it when the holder dies (SIGKILL included), so a
killed run never leaves a stale lock. It guards one box; runs on several hosts sharing an
``s3://`` lake need the cluster's own scheduling (a CronJob with ``concurrencyPolicy: Forbid``).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from pipelines.settings import Settings

LOCK_FILE = "score.lock"


class ScoreLocked(RuntimeError):
    """Another score run on this data folder holds the lock."""


@contextmanager
def score_lock(settings: Settings) -> Iterator[None]:
    """Hold the data folder's score lock, or raise ScoreLocked at once (never wait)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    path = settings.home / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScoreLocked(f"another score run is in progress (it holds {path})") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
