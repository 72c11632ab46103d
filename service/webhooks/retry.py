"""The retry policy, written once: exponential backoff with jitter, Retry-After, a dead line."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempt n waits ``base * factor**(n-1)`` (capped), jittered into its upper half.

    A delivery goes dead when its next attempt would fall after ``created + max_age`` or it
    has had ``max_attempts``; both bounds keep a broken receiver from holding rows forever.
    """

    base_seconds: float = 5.0
    factor: float = 2.0
    max_delay_seconds: float = 15 * 60.0
    max_attempts: int = 12
    max_age: timedelta = timedelta(hours=24)

    def delay(
        self, attempts: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones."""
        pick = (rng or random).uniform
        raw = min(self.max_delay_seconds, self.base_seconds * self.factor ** max(0, attempts - 1))
        wait = pick(raw / 2, raw)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay_seconds))
        return wait

    def next_attempt(
        self, *, attempts: int, created: datetime, now: datetime, retry_after: float | None = None
    ) -> datetime | None:
        """When to try again, or None when the delivery should go to the dead letter."""
        if attempts >= self.max_attempts:
            return None
        when = now + timedelta(seconds=self.delay(attempts, retry_after))
        if when > created + self.max_age:
            return None
        return when
