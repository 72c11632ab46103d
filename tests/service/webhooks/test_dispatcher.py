"""End to end over real HTTP: outbox -> dispatcher -> receivers on 127.0.0.1 that verify HMACs."""

from __future__ import annotations

import dataclasses
import socket
import time
from datetime import timedelta

import httpx
import pytest

from service.alerts.store import SavedAlert
from service.webhooks import outbox, store
from service.webhooks.dispatcher import Dispatcher, DispatcherConfig
from service.webhooks.retry import RetryPolicy
from service.webhooks.store import NewSubscription
from tests.factories import alert
from tests.ports import free_port
from tests.service.webhooks.receivers import Receiver, Step, receiver

pytestmark = pytest.mark.integration

CONFIG = DispatcherConfig(
    policy=RetryPolicy(base_seconds=0.05, factor=2.0, max_delay_seconds=0.3, max_attempts=30),
    timeout=httpx.Timeout(0.5, read=0.4),
    lease=timedelta(seconds=4.5),  # about three attempt budgets (0.5 + 0.5 + 0.4 s)
    idle_seconds=0.05,
)


def subscribe(db, settings, url, **fields):
    with db.session() as s:
        sub, secret = store.create_subscription(s, settings, NewSubscription(url=url, **fields))
    return sub, secret


def enqueue(db, *saved):
    with db.session() as s:
        return outbox.enqueue_for_alerts(s, list(saved))


def drain(db, settings, *, until, timeout=20.0, dispatchers=1, config=CONFIG):
    """Run dispatchers in threads until ``until()`` holds (or fail after ``timeout``)."""
    running = [Dispatcher(db.sessions, settings, config, name=f"d{i}") for i in range(dispatchers)]
    for d in running:
        d.start()
    try:
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, "deliveries did not finish in time"
            time.sleep(0.05)
    finally:
        for d in running:
            d.stop()


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def attempt_errors(db, sub_id):
    with db.session() as s:
        return [
            a.error or ""
            for d in store.list_deliveries(s, sub_id, limit=500).items
            for a in store.attempts_of(s, d)
        ]


def timed_out(db, sub_id):
    """Ids of the deliveries with an attempt that ended in a timeout."""
    with db.session() as s:
        return {
            d.id
            for d in store.list_deliveries(s, sub_id, limit=500).items
            if any("Timeout" in (a.error or "") for a in store.attempts_of(s, d))
        }


def statuses(db, sub_id):
    with db.session() as s:
        return sorted(d.status for d in store.list_deliveries(s, sub_id, limit=500).items)


def test_flaky_down_and_slow_receivers_get_every_alert_once_signed_and_in_order(db, hook_settings):
    alerts = [alert(severity="high") for _ in range(3)]
    saved = [SavedAlert(a, "new") for a in alerts] + [
        SavedAlert(a.model_copy(update={"count": 2}), "updated") for a in alerts
    ]
    down_port = free_port()
    with (
        receiver(script=[Step(500), Step(500)]) as flaky,
        receiver(script=[Step(200, delay=1.0)]) as slow,
    ):
        subs = {}
        secrets = {}
        for name, url in (
            ("flaky", flaky.url),
            ("slow", slow.url),
            ("down", f"http://127.0.0.1:{down_port}/hook"),
        ):
            subs[name], secrets[name] = subscribe(db, hook_settings, url, min_severity="medium")
        flaky.secret, slow.secret = secrets["flaky"], secrets["slow"]
        assert enqueue(db, *saved) == 18
        ignored = alert(severity="low")
        with db.session() as s:
            store.create_subscription(
                s, hook_settings, NewSubscription(url=flaky.url, min_severity="critical")
            )
        enqueue(db, SavedAlert(ignored, "new"))

        started: list[Receiver] = []

        def done() -> bool:
            # Nothing listens (connection refused) until a refusal was recorded; then it is up.
            if not started and any(
                "ConnectError" in e for e in attempt_errors(db, subs["down"].id)
            ):
                started.append(Receiver(secrets["down"], port=down_port).start())
            return all(statuses(db, sub.id) == ["delivered"] * 6 for sub in subs.values())

        try:
            drain(db, hook_settings, until=done, dispatchers=2)
        finally:
            for r in started:
                r.stop()
    (down,) = started

    for name, rec in (("flaky", flaky), ("slow", slow), ("down", down)):
        got = rec.delivered()
        assert all(c.verified for c in rec.calls), name
        ids = [c.delivery_id for c in got]
        assert len(set(ids)) == 6, name
        # Delivered twice only where the receiver's 200 came after the attempt had timed out
        # (a loaded host): at-least-once, under the same delivery id for the receiver to drop.
        repeated = {i for i in ids if ids.count(i) > 1}
        assert repeated <= timed_out(db, subs[name].id), (name, repeated)
        once = {c.delivery_id: c for c in got}.values()  # in order of first arrival
        for a in alerts:
            events = [c.event for c in once if c.body["alert"]["id"] == a.id]
            assert events == ["alert.created", "alert.updated"], name
        assert ignored.id not in {c.body["alert"]["id"] for c in rec.calls}, name
    errors = {name: attempt_errors(db, sub.id) for name, sub in subs.items()}
    assert any("ConnectError" in e for e in errors["down"]), errors
    assert any("ReadTimeout" in e for e in errors["slow"])
    assert sum("HTTP 500" in e for e in errors["flaky"]) == 2
    assert len(flaky.calls) >= 8  # the two 500s were retried under the same delivery ids
    retried = {c.delivery_id for c in flaky.calls if c.answered == 500}
    assert retried <= {c.delivery_id for c in flaky.delivered()}


def test_receiver_stalling_near_the_timeout_gets_each_delivery_once_from_two_dispatchers(
    db, hook_settings
):
    """No attempt starts on a lease that could run out before the attempt's timeouts do.

    The lease is exactly one attempt's budget (connect 0.25 + write 0.25 + read 4 s). The first
    delivery is answered after 1.5 s and the second after 3.5 s, 5 s in all. A dispatcher that
    renewed only once half its lease had gone started the second attempt with 3 s left, so at
    4.5 s the other dispatcher claimed that delivery and sent it again.
    """
    config = dataclasses.replace(
        CONFIG, timeout=httpx.Timeout(0.25, read=4.0), lease=timedelta(seconds=4.5)
    )
    with receiver(script=[Step(200, delay=1.5), Step(200, delay=3.5)]) as r:
        sub, r.secret = subscribe(db, hook_settings, r.url)
        enqueue(db, *[SavedAlert(alert(), "new") for _ in range(2)])
        first = Dispatcher(db.sessions, hook_settings, config, name="first")
        first.start()
        try:
            wait_for(lambda: statuses(db, sub.id) == ["delivering"] * 2)  # first holds both
            drain(
                db,
                hook_settings,
                config=config,
                until=lambda: statuses(db, sub.id) == ["delivered"] * 2,
            )
        finally:
            first.stop()  # waits for its attempt in flight, which the receiver then records
    ids = [c.delivery_id for c in r.delivered()]
    assert len(ids) == len(set(ids)) == 2, [(c.delivery_id, c.answered) for c in r.calls]


def test_dispatcher_restart_loses_nothing(db, hook_settings):
    with receiver() as r:
        sub, r.secret = subscribe(db, hook_settings, r.url)
        enqueue(db, *[SavedAlert(alert(), "new") for _ in range(5)])
        with db.sessions() as s:  # a dispatcher claims work, then dies before sending
            abandoned = outbox.claim_due(
                s, now=outbox.datetime.now(outbox.UTC), lease=timedelta(seconds=1), limit=3
            )
        assert len(abandoned) == 3
        drain(db, hook_settings, until=lambda: statuses(db, sub.id) == ["delivered"] * 5)
    ids = [c.delivery_id for c in r.delivered()]
    assert len(ids) == len(set(ids)) == 5
    assert {d.id for d in abandoned} <= set(ids)


def test_stopped_dispatcher_hands_the_rest_of_its_batch_to_the_next_one_at_once(db, hook_settings):
    with receiver(script=[Step(200, delay=0.2)] * 10) as r:
        sub, r.secret = subscribe(db, hook_settings, r.url)
        enqueue(db, *[SavedAlert(alert(), "new") for _ in range(10)])
        first = Dispatcher(db.sessions, hook_settings, CONFIG, name="first")
        first.start()
        time.sleep(0.5)
        first.stop()
        sent = len(r.calls)
        assert 0 < sent < 10  # stopped mid-batch
        # well inside the first one's lease (4.5 s): the rest is due again already
        second = Dispatcher(db.sessions, hook_settings, CONFIG, name="second")
        assert second.run_once() == 10 - sent
        second.stop()
        assert statuses(db, sub.id) == ["delivered"] * 10
    ids = [c.delivery_id for c in r.delivered()]
    assert len(ids) == len(set(ids)) == 10


def test_always_failing_receiver_ends_in_dead_letter_and_replay_delivers(db, hook_settings):
    policy = RetryPolicy(base_seconds=0.01, max_delay_seconds=0.05, max_attempts=3)
    config = dataclasses.replace(CONFIG, policy=policy)
    with receiver(script=[Step(503), Step(503), Step(503)]) as r:
        sub, r.secret = subscribe(db, hook_settings, r.url)
        enqueue(db, SavedAlert(alert(), "new"))
        drain(db, hook_settings, config=config, until=lambda: statuses(db, sub.id) == ["dead"])
        assert [c.answered for c in r.calls] == [503, 503, 503]
        with db.session() as s:
            assert outbox.replay(s, sub.id) == 1
        drain(db, hook_settings, config=config, until=lambda: statuses(db, sub.id) == ["delivered"])
    assert len({c.delivery_id for c in r.calls}) == 1


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254"])
def test_hostname_resolving_to_metadata_is_refused_at_delivery(db, hook_settings, address):
    def hostile_dns(host, port, type=0):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    config = dataclasses.replace(CONFIG, resolver=hostile_dns)
    sub, _ = subscribe(db, hook_settings, "http://hooks.attacker.test/latest/meta-data/")
    enqueue(db, SavedAlert(alert(), "new"))
    drain(db, hook_settings, config=config, until=lambda: statuses(db, sub.id) == ["dead"])
    with db.session() as s:
        (d,) = store.list_deliveries(s, sub.id).items
        assert "metadata" in (d.last_error or "")
        assert d.last_status_code is None


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:a9fe:a9fe]/",
    ],
)
def test_metadata_urls_are_refused_when_subscribing(db, hook_settings, url):
    with db.session() as s, pytest.raises(store.InvalidSubscription, match="url"):
        store.create_subscription(s, hook_settings, NewSubscription(url=url))


def test_private_receiver_refused_at_delivery_without_allow_private(db, hook_settings, settings):
    with receiver() as r:
        sub, r.secret = subscribe(db, hook_settings, r.url)
        enqueue(db, SavedAlert(alert(), "new"))
        drain(db, settings, until=lambda: statuses(db, sub.id) == ["dead"])
    assert r.calls == []


def test_redirect_to_metadata_is_refused_and_not_followed(db, hook_settings):
    meta = "http://169.254.169.254/latest/meta-data/"
    with receiver(script=[Step(302, headers={"Location": meta})]) as r:
        sub, r.secret = subscribe(db, hook_settings, r.url)
        enqueue(db, SavedAlert(alert(), "new"))
        drain(db, hook_settings, until=lambda: statuses(db, sub.id) == ["dead"])
    with db.session() as s:
        (d,) = store.list_deliveries(s, sub.id).items
    assert "redirect refused" in (d.last_error or "")
    assert len(r.calls) == 1


def test_test_delivery_is_sent_with_test_event(db, hook_settings):
    with receiver() as r:
        sub, r.secret = subscribe(db, hook_settings, r.url, format="slack")
        with db.session() as s:
            subscription = store.get_subscription(s, sub.id)
            assert subscription is not None
            outbox.enqueue_test(s, subscription, alert())
        drain(db, hook_settings, until=lambda: statuses(db, sub.id) == ["delivered"])
    (call,) = r.calls
    assert (call.event, call.verified) == ("test", True)
    assert "blocks" in call.body
