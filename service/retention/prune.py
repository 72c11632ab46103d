"""``functrail prune``: apply the retention settings to the lake, alerts, audit rows and
webhook deliveries. ``plan_prune`` says what would go (``--dry-run`` prints it);
``apply_prune`` deletes exactly that.

What is never deleted: open or acknowledged alerts (whatever their age), the lake partitions
holding their evidence (every (provider, day) from such an alert's first to last sighting:
evidence ids are found by day, and an alert may cite any day of its window), pending
deliveries. Alerts are deleted in bulk, so their counts (``alert_counts``, what ``/metrics``
reads) are taken down by the same transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.alerts.counts import subtract_counts
from service.alerts.models import AlertRow
from service.audit.models import AuditRow
from service.webhooks.models import DEAD, DELIVERED, Delivery

CLOSED = ("resolved", "suppressed")
ACTIVE = ("open", "acknowledged")
FINISHED = (DELIVERED, DEAD)


@dataclass(frozen=True)
class Retention:
    """How long each kind is kept, in days (``FUNCTRAIL_RETENTION_*``)."""

    lake_days: int = 365
    alert_days: int = 365
    audit_days: int = 365
    delivery_days: int = 90

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        return cls(
            settings.retention_days,
            settings.retention_alert_days,
            settings.retention_audit_days,
            settings.retention_delivery_days,
        )


@dataclass
class PrunePlan:
    """What a prune deletes as of ``now``: counts per kind, and the lake partitions."""

    now: datetime
    retention: Retention
    partitions: list[tuple[str, date]] = field(default_factory=list)
    kept_for_evidence: list[tuple[str, date]] = field(default_factory=list)
    alerts: dict[tuple[str, str], int] = field(default_factory=dict)
    audit_rows: int = 0
    deliveries: int = 0

    @property
    def lake_before(self) -> date:
        return (self.now - timedelta(days=self.retention.lake_days)).date()

    @property
    def alerts_before(self) -> datetime:
        return self.now - timedelta(days=self.retention.alert_days)

    @property
    def audit_before(self) -> datetime:
        return self.now - timedelta(days=self.retention.audit_days)

    @property
    def deliveries_before(self) -> datetime:
        return self.now - timedelta(days=self.retention.delivery_days)

    def as_dict(self) -> dict[str, Any]:
        """The plan as ``--format json`` prints it."""
        return {
            "now": _iso(self.now),
            "lake": {
                "before": self.lake_before.isoformat(),
                "partitions": [_partition(p) for p in self.partitions],
                "kept_for_evidence": [_partition(p) for p in self.kept_for_evidence],
            },
            "alerts": {
                "before": _iso(self.alerts_before),
                "count": sum(self.alerts.values()),
                "by_status": {
                    status: sum(n for (_, st), n in self.alerts.items() if st == status)
                    for status in CLOSED
                },
            },
            "audit_rows": {"before": _iso(self.audit_before), "count": self.audit_rows},
            "deliveries": {"before": _iso(self.deliveries_before), "count": self.deliveries},
        }


def plan_prune(
    session: Session, lake: EventLake, retention: Retention, now: datetime | None = None
) -> PrunePlan:
    """What ``apply_prune`` would delete now; reads only."""
    plan = PrunePlan((now or datetime.now(UTC)).astimezone(UTC), retention)
    old = [(p, d) for p, d in lake.days() if d < plan.lake_before]
    protected = _evidence_days(session, plan.lake_before)
    plan.partitions = [p for p in old if p not in protected and (None, p[1]) not in protected]
    plan.kept_for_evidence = [p for p in old if p not in plan.partitions]
    rows = session.execute(
        select(AlertRow.severity, AlertRow.status, func.count())
        .where(AlertRow.status.in_(CLOSED), AlertRow.updated_at < plan.alerts_before)
        .group_by(AlertRow.severity, AlertRow.status)
    )
    plan.alerts = {(severity, status): int(n) for severity, status, n in rows}
    plan.audit_rows = _count(session, select(AuditRow).where(AuditRow.at < plan.audit_before))
    plan.deliveries = _count(session, _old_deliveries(plan.deliveries_before))
    return plan


def apply_prune(session: Session, lake: EventLake, plan: PrunePlan) -> PrunePlan:
    """Delete what ``plan`` holds (the database part in the caller's transaction) and return
    what was deleted: rows are counted again as they go, so a row that changed since the plan
    (an alert reopened) stays."""
    done = PrunePlan(plan.now, plan.retention, kept_for_evidence=plan.kept_for_evidence)
    removed = session.execute(
        select(AlertRow.severity, AlertRow.status, AlertRow.shadow, func.count())
        .where(AlertRow.status.in_(CLOSED), AlertRow.updated_at < plan.alerts_before)
        .group_by(AlertRow.severity, AlertRow.status, AlertRow.shadow)
    )
    live: Counter[tuple[str, str]] = Counter()
    every: Counter[tuple[str, str]] = Counter()
    for severity, status, shadow, n in removed:
        every[(severity, status)] += int(n)
        if not shadow:  # shadow alerts were never in the counts (service.alerts.counts)
            live[(severity, status)] += int(n)
    done.alerts = dict(every)
    session.execute(
        delete(AlertRow).where(
            AlertRow.status.in_(CLOSED), AlertRow.updated_at < plan.alerts_before
        )
    )
    subtract_counts(session, dict(live))
    done.audit_rows = _deleted(
        session.execute(delete(AuditRow).where(AuditRow.at < plan.audit_before))
    )
    stale = _old_deliveries(plan.deliveries_before).with_only_columns(Delivery.seq)
    done.deliveries = _deleted(session.execute(delete(Delivery).where(Delivery.seq.in_(stale))))
    # The lake last: partitions cannot come back, so they go only once the rows are deleted
    # (the caller commits right after; a failure before that deletes nothing of the lake).
    session.flush()
    for provider, day in plan.partitions:
        lake.drop_partition(provider, day)
        done.partitions.append((provider, day))
    return done


def prune(
    settings: Settings, session: Session, *, dry_run: bool, now: datetime | None = None
) -> PrunePlan:
    """Plan, and unless ``dry_run`` apply, the settings' retention."""
    lake = EventLake(settings.lake_root)
    plan = plan_prune(session, lake, Retention.from_settings(settings), now)
    return plan if dry_run else apply_prune(session, lake, plan)


def _evidence_days(session: Session, before: date) -> set[tuple[str | None, date]]:
    """(provider, day) of every day an open or acknowledged alert spans before ``before``."""
    start = datetime.combine(before, datetime.min.time(), tzinfo=UTC)
    rows = session.execute(
        select(AlertRow.provider, AlertRow.first_seen, AlertRow.last_seen).where(
            AlertRow.status.in_(ACTIVE), AlertRow.first_seen < start
        )
    )
    days: set[tuple[str | None, date]] = set()
    for provider, first, last in rows:
        day, end = first.astimezone(UTC).date(), min(last.astimezone(UTC).date(), before)
        while day <= end:
            days.add((provider, day))
            day += timedelta(days=1)
    return days


def _old_deliveries(before: datetime) -> Any:
    return select(Delivery).where(Delivery.status.in_(FINISHED), Delivery.finished_at < before)


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def _deleted(result: Any) -> int:
    return int(result.rowcount or 0)


def _partition(key: tuple[str, date]) -> str:
    return f"{key[0]}/{key[1].isoformat()}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
