"""The outbox on both backends: what is queued, claimed, recorded and replayed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from service.alerts.store import SavedAlert, save_alerts
from service.webhooks import outbox, store
from service.webhooks.delivery import AttemptResult
from service.webhooks.models import Delivery
from service.webhooks.retry import RetryPolicy
from service.webhooks.store import NewSubscription
from tests.factories import alert

LEASE = timedelta(seconds=30)
FAST = RetryPolicy(base_seconds=0.0, max_attempts=3)


def subscribe(session, settings, **fields):
    fields.setdefault("url", "http://127.0.0.1:9/hook")
    sub, _ = store.create_subscription(session, settings, NewSubscription(**fields))
    return sub


def deliveries(session):
    return list(session.scalars(select(Delivery).order_by(Delivery.seq)))


def test_new_and_updated_alerts_queue_created_and_updated_events(db, hook_settings):
    a = alert()
    with db.session() as s:
        subscribe(s, hook_settings)
        queued = outbox.enqueue_for_alerts(
            s,
            [
                SavedAlert(a, "new"),
                SavedAlert(a.model_copy(update={"count": 2}), "updated"),
                SavedAlert(alert(), "unchanged"),
            ],
        )
    with db.session() as s:
        assert queued == 2
        assert [(d.alert_id, d.event) for d in deliveries(s)] == [
            (a.id, "alert.created"),
            (a.id, "alert.updated"),
        ]


def test_enqueueing_the_same_change_twice_queues_it_once(db, hook_settings):
    a = alert()
    with db.session() as s:
        subscribe(s, hook_settings)
        assert outbox.enqueue_for_alerts(s, [SavedAlert(a, "new")]) == 1
    with db.session() as s:
        assert outbox.enqueue_for_alerts(s, [SavedAlert(a, "new")]) == 0
        assert s.scalar(select(func.count()).select_from(Delivery)) == 1


def test_filters_choose_which_subscriptions_get_an_alert(db, hook_settings):
    low = alert(severity="low")
    other_account = alert(account="999999999999")
    tagged = alert(tags=["T1078"])
    anomaly = alert(detector="anomaly", rule_id="principal_hourly")
    with db.session() as s:
        high_only = subscribe(s, hook_settings, min_severity="high")
        by_account = subscribe(s, hook_settings, accounts=["999999999999"])
        by_tag = subscribe(s, hook_settings, tags=["T1078"])
        by_detector = subscribe(s, hook_settings, detectors=["anomaly"])
        by_rule = subscribe(s, hook_settings, rules=["principal_hourly"])
        off = subscribe(s, hook_settings, enabled=False)
        outbox.enqueue_for_alerts(
            s, [SavedAlert(x, "new") for x in (low, other_account, tagged, anomaly)]
        )
    with db.session() as s:
        got = {(d.subscription_id, d.alert_id) for d in deliveries(s)}
    assert got == {
        (high_only.id, other_account.id),
        (high_only.id, tagged.id),
        (high_only.id, anomaly.id),
        (by_account.id, other_account.id),
        (by_tag.id, tagged.id),
        (by_detector.id, anomaly.id),
        (by_rule.id, anomaly.id),
    }
    assert off.id not in {sub for sub, _ in got}


def test_outbox_commits_with_save_alerts_in_one_transaction(db, hook_settings):
    a = alert()
    with db.session() as s:
        subscribe(s, hook_settings)
    with db.session() as s:
        assert outbox.enqueue_for_alerts(s, save_alerts(s, [a])) == 1
    with db.session() as s:
        saved_again = save_alerts(s, [a])
        assert [x.change for x in saved_again] == ["unchanged"]
        assert outbox.enqueue_for_alerts(s, saved_again) == 0
        grown = a.model_copy(
            update={"evidence": a.evidence.model_copy(update={"event_ids": ["x"]})}
        )
        assert outbox.enqueue_for_alerts(s, save_alerts(s, [grown])) == 1
    with db.session() as s:
        assert [d.event for d in deliveries(s)] == ["alert.created", "alert.updated"]


def test_only_oldest_unfinished_delivery_of_an_alert_is_claimed(db, hook_settings):
    a = alert()
    with db.session() as s:
        subscribe(s, hook_settings)
        outbox.enqueue_for_alerts(
            s, [SavedAlert(a, "new"), SavedAlert(a.model_copy(update={"count": 3}), "updated")]
        )
    now = datetime.now(UTC)
    with db.sessions() as s:
        first = outbox.claim_due(s, now=now, lease=LEASE)
        assert [d.event for d in first] == ["alert.created"]
        assert outbox.claim_due(s, now=now, lease=LEASE) == []
        ok = AttemptResult(ok=True, retryable=False, status_code=200)
        assert outbox.record_attempt(s, first[0], ok, policy=FAST, now=now, dispatcher="t") == (
            "delivered"
        )
        second = outbox.claim_due(s, now=now, lease=LEASE)
        assert [d.event for d in second] == ["alert.updated"]


def test_expired_lease_is_claimed_again_and_stale_holder_cannot_record(db, hook_settings):
    with db.session() as s:
        subscribe(s, hook_settings)
        outbox.enqueue_for_alerts(s, [SavedAlert(alert(), "new")])
    now = datetime.now(UTC)
    ok = AttemptResult(ok=True, retryable=False, status_code=200)
    with db.sessions() as first, db.sessions() as second:
        crashed = outbox.claim_due(first, now=now, lease=LEASE)
        assert outbox.claim_due(second, now=now + LEASE / 2, lease=LEASE) == []
        taken = outbox.claim_due(second, now=now + LEASE * 2, lease=LEASE)
        assert [d.id for d in taken] == [d.id for d in crashed]
        stale = outbox.record_attempt(first, crashed[0], ok, policy=FAST, now=now, dispatcher="a")
        assert stale is None
        fresh = outbox.record_attempt(second, taken[0], ok, policy=FAST, now=now, dispatcher="b")
        assert fresh == "delivered"


def test_retryable_failures_go_dead_after_max_attempts_and_replay_requeues(db, hook_settings):
    with db.session() as s:
        sub = subscribe(s, hook_settings)
        outbox.enqueue_for_alerts(s, [SavedAlert(alert(), "new")])
    fail = AttemptResult(ok=False, retryable=True, status_code=503, error="HTTP 503")
    statuses = []
    with db.sessions() as s:
        for _ in range(3):
            now = datetime.now(UTC) + timedelta(seconds=1)
            (d,) = outbox.claim_due(s, now=now, lease=LEASE)
            statuses.append(outbox.record_attempt(s, d, fail, policy=FAST, now=now, dispatcher="t"))
    assert statuses == ["pending", "pending", "dead"]
    with db.session() as s:
        (dead,) = store.list_deliveries(s, sub.id, status="dead").items
        assert dead.attempts == 3
        assert [a.status_code for a in store.attempts_of(s, dead)] == [503, 503, 503]
        assert outbox.replay(s, sub.id) == 1
    with db.sessions() as s:
        (again,) = outbox.claim_due(s, now=datetime.now(UTC) + timedelta(seconds=1), lease=LEASE)
        assert again.id == dead.id


def test_non_retryable_failure_goes_dead_at_once(db, hook_settings):
    with db.session() as s:
        sub = subscribe(s, hook_settings)
        outbox.enqueue_for_alerts(s, [SavedAlert(alert(), "new")])
    gone = AttemptResult(ok=False, retryable=False, status_code=410, error="HTTP 410")
    with db.sessions() as s:
        (d,) = outbox.claim_due(s, now=datetime.now(UTC), lease=LEASE)
        assert (
            outbox.record_attempt(s, d, gone, policy=FAST, now=datetime.now(UTC), dispatcher="t")
            == "dead"
        )
    with db.session() as s:
        assert [x.last_status_code for x in store.list_deliveries(s, sub.id).items] == [410]


def test_deleting_a_subscription_removes_its_deliveries(db, hook_settings):
    with db.session() as s:
        sub = subscribe(s, hook_settings)
        outbox.enqueue_for_alerts(s, [SavedAlert(alert(), "new")])
    with db.session() as s:
        assert store.delete_subscription(s, sub.id)
        assert not store.delete_subscription(s, sub.id)
    with db.session() as s:
        assert deliveries(s) == []


def test_retry_policy_backs_off_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(base_seconds=1.0, factor=2.0, max_delay_seconds=60.0)
    assert all(4.0 <= policy.delay(4) <= 8.0 for _ in range(50))
    assert len({policy.delay(4) for _ in range(20)}) > 1
    assert policy.delay(1, retry_after=30.0) >= 30.0
    assert policy.delay(1, retry_after=10_000.0) <= 60.0
    created = datetime(2026, 1, 1, tzinfo=UTC)
    late = created + policy.max_age
    assert policy.next_attempt(attempts=1, created=created, now=late) is None


def test_renewing_keeps_held_leases_and_drops_expired_ones(db, hook_settings):
    with db.session() as s:
        subscribe(s, hook_settings)
        outbox.enqueue_for_alerts(s, [SavedAlert(alert(), "new") for _ in range(2)])
    now = datetime.now(UTC)
    with db.sessions() as s:
        claimed = outbox.claim_due(s, now=now, lease=LEASE)
        token = claimed[0].lease_token
        assert token is not None
        assert outbox.renew_leases(s, token, now=now + LEASE / 2, lease=LEASE) == {
            d.seq for d in claimed
        }
        assert outbox.renew_leases(s, token, now=now + LEASE * 3, lease=LEASE) == set()


def test_suppressed_alerts_are_not_announced(db, hook_settings):
    with db.session() as s:
        subscribe(s, hook_settings)
        assert outbox.enqueue_for_alerts(s, [SavedAlert(alert(status="suppressed"), "new")]) == 0


def test_many_dispatcher_claims_never_overlap(db, hook_settings):
    with db.session() as s:
        subscribe(s, hook_settings)
        outbox.enqueue_for_alerts(s, [SavedAlert(alert(), "new") for _ in range(40)])
    now = datetime.now(UTC)
    claims: list[list[str]] = []

    def claim() -> None:
        with db.sessions() as s:
            claims.append([d.id for d in outbox.claim_due(s, now=now, lease=LEASE, limit=7)])

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [d for c in claims for d in c]
    assert len(flat) == len(set(flat)) == 40
