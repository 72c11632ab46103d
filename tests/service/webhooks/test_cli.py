"""``functrail webhooks dispatch|list|replay`` and the dispatcher inside ``functrail serve``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def test_dispatch_refuses_a_lease_shorter_than_one_attempt(home_db, settings):
    functrail = str(Path(sys.executable).parent / "functrail")
    env = os.environ | {"FUNCTRAIL_HOME": str(settings.home), "COLUMNS": "500"}  # one line
    command = [functrail, "webhooks", "dispatch", "--once", "--lease", "10"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2  # bad usage, as for any invalid option value
    assert "lease of 10 s is shorter than one attempt's budget of 25 s" in done.stderr
    assert "Traceback" not in done.stderr


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


@pytest.mark.slow
def test_killed_dispatch_worker_loses_nothing_after_restart(home_db, settings):
    db, allowed = home_db
    functrail = str(Path(sys.executable).parent / "functrail")
    env = os.environ | {
        "FUNCTRAIL_HOME": str(settings.home),
        "FUNCTRAIL_WEBHOOK_ALLOW_PRIVATE": "1",
    }
    command = [functrail, "webhooks", "dispatch", "--lease", "25", "--batch", "5"]
    with receiver(script=[Step(200, delay=0.15)] * 20) as r:
        sub, r.secret = subscribe_and_enqueue(db, allowed, r.url, n=20)
        first = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: len(r.delivered()) >= 4, timeout=60)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        second = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: len({c.delivery_id for c in r.delivered()}) == 20, timeout=90)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
    with db.session() as s:
        queued = {d.id for d in store.list_deliveries(s, sub.id, limit=100).items}
        states = {d.status for d in store.list_deliveries(s, sub.id, limit=100).items}
    ids = [c.delivery_id for c in r.delivered()]
    assert set(ids) == queued
    assert states == {"delivered"}
    assert len(ids) - len(set(ids)) <= 1  # at most the one in flight when the worker was killed


def wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
