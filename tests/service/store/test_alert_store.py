"""save_alerts: folding, idempotency, suppressions, and the stored state it returns."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from detectors.alert import Alert, Evidence
from service.alerts.models import AlertRow
from service.alerts.queries import get_alert
from service.alerts.store import EVIDENCE_ID_LIMIT, save_alerts
from service.suppressions.store import SuppressionSpec, create_suppression
from tests.factories import alert


def as_alert(stored) -> Alert:
    return Alert(**stored.model_dump(include=set(Alert.model_fields)))


def test_new_alert_is_stored_with_every_field(session):
    a = alert(explanation=[{"feature": "calls", "observed": 40.0, "baseline": "3 +- 1"}])
    [saved] = save_alerts(session, [a])
    assert saved.change == "new"
    assert as_alert(get_alert(session, a.id)) == a


def test_saving_the_same_alerts_twice_changes_nothing(session):
    alerts = [alert(), alert()]
    save_alerts(session, alerts)
    again = save_alerts(session, [x.model_copy(deep=True) for x in alerts])
    assert [s.change for s in again] == ["unchanged", "unchanged"]
    assert [s.alert.count for s in again] == [1, 1]
    assert session.scalar(select(func.count()).select_from(AlertRow)) == 2


def test_repeat_with_new_evidence_folds_into_one_alert(session):
    first = alert()
    later = first.model_copy(
        update={
            "id": "other-id",
            "first_seen": first.first_seen + timedelta(hours=2),
            "last_seen": first.first_seen + timedelta(hours=3),
            "evidence": Evidence(event_ids=["evt-later"]),
            "severity": "critical",
        }
    )
    save_alerts(session, [first])
    [saved] = save_alerts(session, [later])
    assert saved.change == "updated"
    assert saved.alert.id == first.id
    assert saved.alert.count == 2
    assert saved.alert.first_seen == first.first_seen
    assert saved.alert.last_seen == later.last_seen
    assert saved.alert.severity == "critical"
    assert saved.alert.evidence.event_ids == [*first.evidence.event_ids, "evt-later"]


def test_repeats_within_one_batch_fold_and_report_new(session):
    first = alert()
    second = first.model_copy(
        update={"id": "x", "last_seen": first.last_seen, "evidence": Evidence(event_ids=["e2"])}
    )
    saved = save_alerts(session, [first, second])
    assert [(s.change, s.alert.count) for s in saved] == [("new", 2)]


def test_repeat_outside_the_window_opens_a_new_alert(session):
    first = alert()
    late = alert(
        dedup_key=first.dedup_key,
        first_seen=first.last_seen + timedelta(days=3),
        evidence=Evidence(event_ids=["evt-late"]),
    )
    save_alerts(session, [first])
    [saved] = save_alerts(session, [late], window=timedelta(hours=24))
    assert saved.change == "new"
    assert saved.alert.id == late.id


def test_resolved_alert_does_not_absorb_new_occurrences(session):
    first = alert()
    save_alerts(session, [first])
    session.get(AlertRow, first.id).status = "resolved"
    again = alert(
        dedup_key=first.dedup_key,
        first_seen=first.first_seen + timedelta(minutes=5),
        evidence=Evidence(event_ids=["evt-again"]),
    )
    [saved] = save_alerts(session, [again])
    assert (saved.change, saved.alert.status) == ("new", "open")


def test_evidence_ids_stay_bounded(session):
    first = alert(evidence=Evidence(event_ids=[f"a{i}" for i in range(EVIDENCE_ID_LIMIT)]))
    more = first.model_copy(update={"evidence": Evidence(event_ids=["b1", "b2"]), "count": 2})
    save_alerts(session, [first])
    [saved] = save_alerts(session, [more])
    assert saved.alert.count == 3
    assert len(saved.alert.evidence.event_ids) == EVIDENCE_ID_LIMIT


def test_matching_suppression_stores_alert_as_suppressed(session):
    a = alert(
        rule_id="aws_root_account_usage",
        evidence=Evidence(event_ids=["e1"], sample=[{"source_ip": "203.0.113.7"}]),
    )
    other = alert(rule_id="aws_root_account_usage")
    create_suppression(
        session,
        SuppressionSpec(
            reason="pen test", rule_id="aws_root_account_usage", source_cidr="203.0.113.0/24"
        ),
        creator="admin",
    )
    saved = save_alerts(session, [a, other])
    assert [s.alert.status for s in saved] == ["suppressed", "open"]
    assert session.scalar(select(func.count()).select_from(AlertRow)) == 2


def test_expired_suppression_does_not_apply(session):
    a = alert()
    create_suppression(
        session,
        SuppressionSpec(
            reason="old", principal=a.principal, expires_at=a.first_seen - timedelta(days=1)
        ),
        creator="admin",
    )
    [saved] = save_alerts(session, [a])
    assert saved.alert.status == "open"


HOSTILE = [
    "'; DROP TABLE alerts; --",
    "<script>alert(1)</script>",
    "\u202eexe.gpj",
    "line\nbreak\ttab\r",
    "emoji 🐍 and ünïcödé",
    "%_\\ like wildcards",
    "x" * 5000,
]


def test_hostile_strings_round_trip_verbatim(session):
    alerts = [
        alert(
            principal=h, resource=h, title=h, tags=[h], runbook=h, evidence=Evidence(event_ids=[h])
        )
        for h in HOSTILE
    ]
    save_alerts(session, alerts)
    for a in alerts:
        assert as_alert(get_alert(session, a.id)) == a


def test_nul_in_attacker_names_does_not_fail_the_batch(session):
    a = alert(principal="evil\x00user", title="evil\x00user did x")
    twin = a.model_copy(update={"id": "twin", "evidence": Evidence(event_ids=["e-twin"])})
    saved = save_alerts(session, [a])
    [again] = save_alerts(session, [twin])
    assert again.change == "updated"
    assert again.alert.id == a.id
    stored = get_alert(session, a.id).principal
    verbatim = session.get_bind().dialect.name == "sqlite"
    assert stored == ("evil\x00user" if verbatim else "evil\ufffduser")
    assert saved[0].change == "new"
