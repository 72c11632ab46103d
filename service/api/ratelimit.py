"""Per-key token buckets shared by every API process of a data folder.

With ``functrail serve --workers N`` each worker limited alone, so a key got N times its rate.
The buckets now live in a small memory-mapped file in the data folder
(``ratelimit.buckets``, 0600, 128 KiB): every process that serves that folder reads and
updates the same bucket under an ``flock``, a few microseconds a request and no new server.
Processes on other hosts (several replicas on one PostgreSQL) each keep their own file, so
there the limit is per host.

The table is open-addressed by a 64-bit hash of the key id; when every slot a key may use is
taken, the slot idle longest is reused (a reset only forgives). Times are ``time.monotonic``,
one clock for every process of a host; a stamp from before a reboot counts as a full bucket.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

BUCKETS_FILE = "ratelimit.buckets"
SLOTS = 4096
PROBE = 16
"""slots a key may occupy, from its home slot on"""
_SLOT = struct.Struct("<Qdd")
_SIZE = SLOTS * _SLOT.size


class RateLimiter:
    """``rate`` requests per second on average, bursts up to ``burst``, per key, shared by
    every process using the same ``path`` (in memory only when ``path`` is None)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        path: Path | None = None,
    ) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._lock = threading.Lock()  # flock is per open file: threads share ours
        self._fd: int | None = None
        if path is None:
            self._table = mmap.mmap(-1, _SIZE)
        else:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(self._fd).st_size < _SIZE:
                os.ftruncate(self._fd, _SIZE)
            self._table = mmap.mmap(self._fd, _SIZE)

    def take(self, key: str) -> float:
        """0 when the request may go on, else the seconds until a token is free."""
        code = _code(key)
        with self._lock:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                return self._take(code, self.clock())
            finally:
                if self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._table.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _take(self, code: int, now: float) -> float:
        offset = self._slot(code, now)
        held, tokens, stamp = _SLOT.unpack_from(self._table, offset)
        if held != code or stamp > now:
            tokens, stamp = float(self.burst), now
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        _SLOT.pack_into(self._table, offset, code, tokens, now)
        return wait

    def _slot(self, code: int, now: float) -> int:
        """The offset of ``code``'s slot: its own, else a free one, else the longest idle (a
        stamp from before a reboot counts as idlest of all)."""
        home = code % SLOTS
        idlest, idlest_stamp = home * _SLOT.size, math.inf
        for step in range(PROBE):
            offset = ((home + step) % SLOTS) * _SLOT.size
            held, _tokens, stamp = _SLOT.unpack_from(self._table, offset)
            if held in (code, 0):
                return offset
            age_key = -math.inf if stamp > now else stamp
            if age_key < idlest_stamp:
                idlest, idlest_stamp = offset, age_key
        return idlest


def _code(key: str) -> int:
    """A non-zero 64-bit code for a key id (zero marks a free slot)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
