"""What generators produce: records with their time and the log file family they belong to.

A sink is ``("aws", account, region)`` (one CloudTrail file series) or ``("gcp", log, "")`` where
log is ``activity`` or ``data_access`` (one Cloud Storage sink folder).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

Sink = tuple[str, str, str]

# Relative activity per UTC hour for a European business: quiet nights, a peak after lunch.
HOURLY = np.array(
    [
        0.12,
        0.09,
        0.08,
        0.07,
        0.08,
        0.12,
        0.25,
        0.45,
        0.70,
        0.85,
        0.95,
        1.00,
        1.00,
        1.00,
        0.97,
        0.92,
        0.85,
        0.72,
        0.60,
        0.50,
        0.40,
        0.30,
        0.22,
        0.16,
    ]
)
WEEKEND = 0.45


class Emit(NamedTuple):
    """One generated record, when it happened (epoch seconds) and where it is written."""

    t: int
    sink: Sink
    record: dict[str, Any]


def aws_sink(account: str, region: str) -> Sink:
    return ("aws", account, region)


def gcp_sink(log: str) -> Sink:
    return ("gcp", log, "")


def is_weekend(day_start: int) -> bool:
    """Whether the UTC day starting at ``day_start`` is a Saturday or Sunday."""
    return (day_start // 86400 + 3) % 7 >= 5


def rhythm_times(
    rng: np.random.Generator, day_start: int, peak_per_hour: float, *, floor: float = 0.0
) -> list[int]:
    """Sorted event times for one day of a Poisson stream following the daily and weekly rhythm.

    ``floor`` keeps a share of the peak rate at all hours (machine traffic that never sleeps).
    """
    shape = floor + (1.0 - floor) * HOURLY
    lam = peak_per_hour * shape * (WEEKEND if is_weekend(day_start) else 1.0)
    counts = rng.poisson(lam)
    total = int(counts.sum())
    if total == 0:
        return []
    hours = np.repeat(np.arange(24, dtype=np.int64), counts)
    times = day_start + hours * 3600 + rng.integers(0, 3600, size=total)
    times.sort()
    return times.tolist()
