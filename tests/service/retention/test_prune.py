"""Retention: what a prune deletes, what it keeps (open alerts and their evidence's partitions),
and that a dry run deletes nothing. Over SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from detectors.alert import Status
from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.alerts.counts import alert_counts
from service.alerts.models import AlertRow, TriageRow
from service.alerts.store import save_alerts
from service.alerts.triage import triage
from service.audit.models import AuditRow
from service.retention.prune import Retention, apply_prune, plan_prune
from service.webhooks import store as webhooks
from service.webhooks.models import DEAD, DELIVERED, Delivery
from service.webhooks.outbox import enqueue_for_alerts
from tests.factories import alert, event, events

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
KEEP = Retention(lake_days=30, alert_days=60, audit_days=90, delivery_days=7)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


@pytest.fixture
def lake(tmp_path) -> EventLake:
    return EventLake(str(tmp_path / "lake"))


def closed_alert(session, status: Status, age_days: float, **fields):
    made = alert(**fields)
    save_alerts(session, [made])
    triage(session, made.id, actor="kim", status=status)
    session.execute(
        update(AlertRow).where(AlertRow.id == made.id).values(updated_at=days_ago(age_days))
    )
    return made


def count(session, model) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_old_lake_partitions_go_and_those_an_open_alert_needs_stay(session, lake):
    lake.append(
        events(
            event(time=days_ago(40)),
            event(time=days_ago(35), provider="gcp", account="p"),
            event(time=days_ago(31)),
            event(time=days_ago(3)),
        )
    )
    evidence_at = days_ago(31)
    save_alerts(session, [alert(first_seen=evidence_at, last_seen=evidence_at)])
    plan = plan_prune(session, lake, KEEP, NOW)
    assert plan.partitions == [("aws", days_ago(40).date()), ("gcp", days_ago(35).date())]
    assert plan.kept_for_evidence == [("aws", days_ago(31).date())]
    apply_prune(session, lake, plan)
    assert lake.days() == [("aws", days_ago(31).date()), ("aws", days_ago(3).date())]
    assert lake.partition_counts("aws", days_ago(40).date()) is None


def test_a_resolved_alert_of_an_old_day_no_longer_protects_its_partition(session, lake):
    lake.append(events(event(time=days_ago(40))))
    old = alert(first_seen=days_ago(40), last_seen=days_ago(40))
    save_alerts(session, [old])
    triage(session, old.id, actor="kim", status="resolved")
    assert plan_prune(session, lake, KEEP, NOW).partitions == [("aws", days_ago(40).date())]


def test_closed_alerts_older_than_the_setting_go_open_ones_never(session, lake):
    gone = [closed_alert(session, "resolved", 61), closed_alert(session, "suppressed", 70)]
    recent = closed_alert(session, "resolved", 59)
    stale_open = alert()
    save_alerts(session, [stale_open])
    session.execute(
        update(AlertRow).where(AlertRow.id == stale_open.id).values(updated_at=days_ago(400))
    )
    before = count(session, AlertRow)
    plan = plan_prune(session, lake, KEEP, NOW)
    assert sum(plan.alerts.values()) == 2
    done = apply_prune(session, lake, plan)
    assert sum(done.alerts.values()) == 2
    assert count(session, AlertRow) == before - 2
    assert all(session.get(AlertRow, a.id) is None for a in gone)
    assert session.get(AlertRow, recent.id) is not None
    assert session.get(AlertRow, stale_open.id) is not None
    triaged = select(TriageRow).where(TriageRow.alert_id.in_([a.id for a in gone]))
    assert session.scalars(triaged).all() == []


def test_alert_counts_stay_equal_to_the_stored_alerts_after_a_prune(session, lake):
    closed_alert(session, "resolved", 100, severity="high")
    closed_alert(session, "resolved", 100, severity="high")
    save_alerts(session, [alert(severity="high")])
    apply_prune(session, lake, plan_prune(session, lake, KEEP, NOW))
    grouped = select(AlertRow.severity, AlertRow.status, func.count()).group_by(
        AlertRow.severity, AlertRow.status
    )
    assert alert_counts(session) == {(s, st): n for s, st, n in session.execute(grouped)}


def test_audit_rows_and_ended_deliveries_older_than_the_settings_go(session, lake):
    for age in (91, 120, 89):
        session.add(AuditRow(at=days_ago(age), method="GET", route="/v1/alerts", status_code=200))
    webhooks.create_subscription(
        session,
        Settings(webhook_allow_private=True),
        webhooks.NewSubscription(url="http://127.0.0.1:9/hook"),
    )
    saved = save_alerts(session, [alert(), alert(), alert(), alert()])
    enqueue_for_alerts(session, saved)
    session.flush()
    seqs = session.scalars(select(Delivery.seq).order_by(Delivery.seq)).all()
    ends = [(DELIVERED, 8), (DEAD, 30), (DELIVERED, 6)]  # the fourth stays pending
    for seq, (status, age) in zip(seqs, ends, strict=False):
        session.execute(
            update(Delivery)
            .where(Delivery.seq == seq)
            .values(status=status, finished_at=days_ago(age))
        )
    plan = plan_prune(session, lake, KEEP, NOW)
    assert (plan.audit_rows, plan.deliveries) == (2, 2)
    done = apply_prune(session, lake, plan)
    assert (done.audit_rows, done.deliveries) == (2, 2)
    assert count(session, AuditRow) == 1
    assert sorted(session.scalars(select(Delivery.status))) == [DELIVERED, "pending"]


def test_a_plan_deletes_nothing(session, lake):
    lake.append(events(event(time=days_ago(40))))
    closed_alert(session, "resolved", 100)
    session.add(AuditRow(at=days_ago(200), method="GET", route="/v1/x", status_code=200))
    before = (count(session, AlertRow), count(session, AuditRow), lake.days())
    plan = plan_prune(session, lake, KEEP, NOW)
    assert (len(plan.partitions), sum(plan.alerts.values()), plan.audit_rows) == (1, 1, 1)
    assert (count(session, AlertRow), count(session, AuditRow), lake.days()) == before
    assert plan.as_dict()["lake"]["partitions"] == [f"aws/{date(2026, 1, 21).isoformat()}"]


def test_pruned_shadow_alerts_leave_the_counts_exact(session, lake):
    made = alert(severity="high")
    save_alerts(session, [made], shadow=lambda _: True)
    triage(session, made.id, actor="kim", status="resolved")
    session.execute(update(AlertRow).where(AlertRow.id == made.id).values(updated_at=days_ago(100)))
    closed_alert(session, "resolved", 100, severity="high")
    save_alerts(session, [alert(severity="high")])
    done = apply_prune(session, lake, plan_prune(session, lake, KEEP, NOW))
    assert done.alerts == {("high", "resolved"): 2}
    assert alert_counts(session) == {("high", "open"): 1}
