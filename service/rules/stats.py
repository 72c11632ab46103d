"""Alert volume per rule and day, live and shadow alike, with the analysts' verdicts: how noisy
a rule is before (and after) it pages anyone.

One GROUP BY over the window, bounded by ``last_seen`` (the ``rule_id``-led list index when a
rule is named), grouped by day, ``shadow`` and ``disposition``; the rest is Python over at most
days x 2 x 4 rows per rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, get_args

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detectors.alert import Disposition
from service.alerts.models import AlertRow
from service.db import utcnow

DISPOSITIONS: tuple[str, ...] = get_args(Disposition)


def no_verdicts() -> dict[str, int]:
    """Every verdict at zero: the counts always have the same keys."""
    return dict.fromkeys(DISPOSITIONS, 0)


@dataclass
class DayCount:
    """One UTC day (of ``last_seen``) of one rule's alerts."""

    day: date
    alerts: int = 0
    shadow: int = 0
    by_disposition: dict[str, int] = field(default_factory=no_verdicts)

    def add(self, shadow: bool, disposition: str | None, n: int) -> None:
        self.alerts += n
        self.shadow += n if shadow else 0
        if disposition in self.by_disposition:
            self.by_disposition[disposition] += n


@dataclass
class RuleVolume:
    """A rule's alerts over the window: totals and one ``DayCount`` per day (zeros included)."""

    rule_id: str
    since: datetime
    until: datetime
    alerts: int = 0
    shadow: int = 0
    by_disposition: dict[str, int] = field(default_factory=no_verdicts)
    by_day: list[DayCount] = field(default_factory=list)


def window(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last ``days`` UTC days, today included: [midnight ``days - 1`` days ago, now]."""
    now = now or utcnow()
    start = datetime.combine(now.date() - timedelta(days=days - 1), datetime.min.time(), now.tzinfo)
    return start, now


def rule_volumes(
    session: Session, days: int, *, rule_ids: list[str] | None = None, now: datetime | None = None
) -> dict[str, RuleVolume]:
    """Each rule's volume over the last ``days`` days (only rules with alerts, unless named)."""
    since, until = window(days, now)
    day = func.date(AlertRow.last_seen)
    stmt: Any = (
        select(AlertRow.rule_id, day, AlertRow.shadow, AlertRow.disposition, func.count())
        .where(AlertRow.last_seen >= since)
        .group_by(AlertRow.rule_id, day, AlertRow.shadow, AlertRow.disposition)
    )
    if rule_ids is not None:
        stmt = stmt.where(AlertRow.rule_id.in_(rule_ids))
    volumes = {r: _empty(r, since, until) for r in rule_ids or []}
    by_day: dict[str, dict[date, DayCount]] = {
        r: {d.day: d for d in v.by_day} for r, v in volumes.items()
    }
    for rule_id, when, shadow, disposition, n in session.execute(stmt):
        if rule_id not in volumes:
            volumes[rule_id] = _empty(rule_id, since, until)
            by_day[rule_id] = {d.day: d for d in volumes[rule_id].by_day}
        volume, the_day = volumes[rule_id], _date(when)
        if the_day not in by_day[rule_id]:  # last_seen ahead of this clock: kept, not dropped
            by_day[rule_id][the_day] = DayCount(the_day)
            volume.by_day.append(by_day[rule_id][the_day])
        by_day[rule_id][the_day].add(bool(shadow), disposition, int(n))
        volume.alerts += int(n)
        volume.shadow += int(n) if shadow else 0
        if disposition in volume.by_disposition:
            volume.by_disposition[disposition] += int(n)
    for volume in volumes.values():
        volume.by_day.sort(key=lambda d: d.day)
    return volumes


def _date(value: Any) -> date:
    """``date(last_seen)`` as either driver returns it (PostgreSQL a date, SQLite its text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _empty(rule_id: str, since: datetime, until: datetime) -> RuleVolume:
    span = (until.date() - since.date()).days + 1
    days = [DayCount(since.date() + timedelta(days=i)) for i in range(span)]
    return RuleVolume(rule_id, since, until, by_day=days)
