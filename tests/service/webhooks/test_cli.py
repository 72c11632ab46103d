"""``functrail webhooks dispatch|list|replay`` and the dispatcher inside ``functrail serve``."""

from __future__ import annotations

import time

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.alerts.store import SavedAlert
from service.api.app import create_app
from service.cli.app import app
from service.db import open_database
from service.webhooks import outbox, store
from service.webhooks.background import attach_dispatcher
from service.webhooks.dispatcher import DispatcherConfig
from service.webhooks.store import NewSubscription
from tests.factories import alert
from tests.service.webhooks.receivers import Step, receiver

pytestmark = pytest.mark.integration


@pytest.fixture
def home_db(settings, monkeypatch):
    monkeypatch.setenv("FUNCTRAIL_WEBHOOK_ALLOW_PRIVATE", "1")
    allowed = settings.model_copy(update={"webhook_allow_private": True})
    db = open_database(allowed)
    yield db, allowed
    db.dispose()


def subscribe_and_enqueue(db, settings, url, n=3):
    with db.session() as s:
        sub, secret = store.create_subscription(s, settings, NewSubscription(url=url))
    with db.session() as s:
        outbox.enqueue_for_alerts(s, [SavedAlert(alert(), "new") for _ in range(n)])
    return sub, secret


def test_dispatch_once_delivers_everything_due_and_exits(home_db):
    db, settings = home_db
    with receiver() as r:
        _sub, r.secret = subscribe_and_enqueue(db, settings, r.url)
        result = CliRunner().invoke(app, ["webhooks", "dispatch", "--once"])
    assert result.exit_code == 0, result.output
    assert len(r.delivered()) == 3
    assert all(c.verified for c in r.calls)


def test_list_jsonl_shows_queue_counts_and_replay_requeues_dead(home_db):
    db, settings = home_db
    with receiver(script=[Step(404)]) as r:
        sub, r.secret = subscribe_and_enqueue(db, settings, r.url, n=1)
        assert CliRunner().invoke(app, ["webhooks", "dispatch", "--once"]).exit_code == 0
        listed = CliRunner().invoke(app, ["webhooks", "list", "--format", "jsonl"])
        (row,) = [orjson.loads(line) for line in listed.stdout.splitlines()]
        assert (row["id"], row["dead"], row["delivered"]) == (sub.id, 1, 0)
        replayed = CliRunner().invoke(app, ["webhooks", "replay", sub.id])
        assert replayed.exit_code == 0
        assert CliRunner().invoke(app, ["webhooks", "dispatch", "--once"]).exit_code == 0
    listed = CliRunner().invoke(app, ["webhooks", "list", "--format", "jsonl"])
    assert orjson.loads(listed.stdout)["delivered"] == 1
    assert "secret" not in listed.stdout


def test_replay_of_unknown_webhook_fails(home_db):
    result = CliRunner().invoke(app, ["webhooks", "replay", "nope"])
    assert result.exit_code != 0


def test_serve_runs_a_dispatcher_with_the_app_and_stops_it(home_db):
    db, settings = home_db
    with receiver() as r:
        _sub, r.secret = subscribe_and_enqueue(db, settings, r.url, n=2)
        application = create_app(settings, database=db)
        attach_dispatcher(application, DispatcherConfig(idle_seconds=0.05))
        with TestClient(application):
            deadline = time.monotonic() + 15
            while len(r.delivered()) < 2:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    assert {c.verified for c in r.calls} == {True}
