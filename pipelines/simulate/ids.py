"""Seeded identifiers and timestamps for simulated records.

Every random choice the simulator makes comes from an RNG derived from the seed and the name of
the stream that needs it, so the same seed gives byte-identical output and adding an attack does
not shift the baseline traffic.
"""

from __future__ import annotations

import random
import string
import zlib
from datetime import UTC, date, datetime
from functools import cache

import numpy as np

_ALNUM = string.ascii_letters + string.digits
_UPPER_ALNUM = string.ascii_uppercase + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits
_VERSION_MASK = ~(0xF000 << 64) & ~(0xC000 << 48)
_VERSION_BITS = (0x4000 << 64) | (0x8000 << 48)


def derive(seed: int, *parts: object) -> random.Random:
    """A Python RNG for one named stream of one seed (string seeding is stable across runs)."""
    return random.Random("/".join([str(seed), *map(str, parts)]))


def derive_np(seed: int, *parts: object) -> np.random.Generator:
    """A numpy Generator for one named stream, for vectorized draws (counts, offsets)."""
    name = "/".join(map(str, parts)).encode()
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(name)])


def uuid4(rng: random.Random) -> str:
    """A version-4 UUID string drawn from ``rng`` (uuid.uuid4 would read the OS entropy pool)."""
    h = f"{(rng.getrandbits(128) & _VERSION_MASK) | _VERSION_BITS:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def token(rng: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    """``n`` random characters, e.g. the 16-character suffix of a CloudTrail file name."""
    return "".join(rng.choices(alphabet, k=n))


def aws_key_id(rng: random.Random, prefix: str) -> str:
    """An access key or unique id (``AKIA``, ``ASIA``, ``AIDA``, ``AROA``) of realistic length."""
    return prefix + token(rng, 16, _UPPER_ALNUM)


def insert_id(rng: random.Random) -> str:
    """A Cloud Logging insertId: short, lowercase alphanumeric, unique per log."""
    return token(rng, 12, _LOWER_ALNUM)


def hex_id(rng: random.Random, n: int) -> str:
    """``n`` random hex digits (SSO role suffixes, commit shas)."""
    return f"{rng.getrandbits(4 * n):0{n}x}"


@cache
def _hms() -> tuple[str, ...]:
    return tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400))


@cache
def _day(days: int) -> str:
    return date.fromordinal(date(1970, 1, 1).toordinal() + days).isoformat()


def aws_time(t: int) -> str:
    """Epoch seconds as CloudTrail writes ``eventTime``: ``YYYY-MM-DDTHH:MM:SSZ`` (cached parts)."""
    return f"{_day(t // 86400)}T{_hms()[t % 86400]}Z"


def gcp_time(t: int, micros: int) -> str:
    """Epoch seconds plus microseconds as Cloud Logging writes ``timestamp``."""
    return f"{_day(t // 86400)}T{_hms()[t % 86400]}.{micros:06d}Z"


def epoch(day: date) -> int:
    """Midnight UTC of ``day`` in epoch seconds."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
