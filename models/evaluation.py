"""Alerts against the simulator's labels: which labelled attacks were caught, which alerts match
none (the false alarms an analyst would have triaged for nothing).

The demo's summary and the evaluation bench share this, so "caught" means one thing. An alert
catches a label when it cites one of the label's events, or names the label's principal or one
of the resources its events touched, in the label's account, within an hour of the attack.
Alerts stay plain values here (``Flagged``): this layer knows nothing of the Alert type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

import orjson

SLACK: Final = timedelta(hours=1)
"""An alert within an hour of the attack's span, on its principal or resource, is about it."""


@dataclass(frozen=True)
class Label:
    """One injected attack, as ``labels.jsonl`` lists it (plus the resources of its events)."""

    scenario: str
    account: str
    principal: str
    start: datetime
    end: datetime
    event_ids: frozenset[str]
    resources: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return f"{self.scenario} ({self.start.date().isoformat()})"

    @classmethod
    def from_record(cls, record: Mapping[str, Any], resources: Iterable[str] = ()) -> Label:
        return cls(
            scenario=str(record["scenario"]),
            account=str(record["account"]),
            principal=str(record["principal"]),
            start=_time(record["start"]),
            end=_time(record["end"]),
            event_ids=frozenset(str(i) for i in record.get("event_ids", [])),
            resources=frozenset(r for r in resources if r),
        )


@dataclass(frozen=True)
class Flagged:
    """What an alert says about who, what and when: enough to match it to a label."""

    id: str
    detector: str
    rule_id: str
    account: str | None
    principal: str | None
    resource: str | None
    first_seen: datetime
    last_seen: datetime
    event_ids: frozenset[str] = frozenset()


@dataclass
class Scorecard:
    """Labels caught and missed (by name), and the alerts that match no label, per day."""

    caught: dict[str, list[str]] = field(default_factory=dict)
    """Label name -> the rule ids of the alerts that caught it."""
    missed: list[str] = field(default_factory=list)
    unmatched: list[Flagged] = field(default_factory=list)

    def unmatched_per_day(self, days: Sequence[date]) -> dict[date, int]:
        """Unmatched alerts by the day they were first seen; every day in ``days`` is listed."""
        counts = Counter(a.first_seen.date() for a in self.unmatched)
        return {d: counts.get(d, 0) for d in days}


def read_labels(data: bytes) -> list[dict[str, Any]]:
    """The records of a ``labels.jsonl`` file."""
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]


def matches(alert: Flagged, label: Label) -> bool:
    """Does ``alert`` speak of ``label``'s attack (its events, or its principal or resources
    in its account close to its time)?"""
    if label.event_ids.intersection(alert.event_ids):
        return True
    if alert.account is not None and alert.account != label.account:
        return False
    about = alert.principal == label.principal or (
        alert.resource is not None and alert.resource in label.resources
    )
    return (
        about and alert.first_seen <= label.end + SLACK and alert.last_seen >= label.start - SLACK
    )


def score_alerts(alerts: Sequence[Flagged], labels: Sequence[Label]) -> Scorecard:
    """Each label caught or missed; each alert matched to some label or not."""
    card = Scorecard()
    used: set[str] = set()
    for label in labels:
        hits = [a for a in alerts if matches(a, label)]
        used.update(a.id for a in hits)
        if hits:
            card.caught[label.name] = sorted({a.rule_id for a in hits})
        else:
            card.missed.append(label.name)
    card.unmatched = [a for a in alerts if a.id not in used]
    return card


def _time(value: object) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
