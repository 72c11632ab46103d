"""Triage and suppressions from a terminal: ``functrail alerts show|ack|resolve|reopen|assign|
note`` and ``functrail suppressions list|create|delete`` against the local store."""

from __future__ import annotations

import getpass

import orjson
from sqlalchemy import select
from typer.testing import CliRunner

from pipelines.settings import Settings
from service.alerts.queries import get_alert
from service.alerts.store import save_alerts
from service.alerts.triage import history
from service.cli import app
from service.cli.app import CommandFailed
from service.db import open_database
from service.suppressions.store import active_suppressions
from service.webhooks.models import Delivery
from service.webhooks.store import NewSubscription, create_subscription
from tests.factories import alert

runner = CliRunner()


def _stored(settings: Settings, *alerts):
    db = open_database(settings)
    with db.session() as session:
        save_alerts(session, list(alerts))
    return db


def test_ack_then_resolve_with_a_verdict_is_recorded_with_the_actor(settings: Settings):
    a = alert()
    db = _stored(settings, a)
    acked = runner.invoke(app, ["alerts", "ack", a.id, "--actor", "kim"])
    assert acked.exit_code == 0, acked.output
    assert f"alert {a.id}: acknowledged" in acked.stdout
    resolved = runner.invoke(
        app, ["alerts", "resolve", a.id, "--disposition", "false_positive", "--note", "CI role"]
    )
    assert resolved.exit_code == 0, resolved.output
    assert "resolved (false_positive)" in resolved.stdout
    with db.session() as session:
        assert get_alert(session, a.id).disposition == "false_positive"
        trail = history(session, a.id)
    assert [(e.actor, e.status_to, e.disposition, e.note) for e in trail] == [
        ("kim", "acknowledged", None, None),
        (getpass.getuser(), "resolved", "false_positive", "CI role"),
    ]


def test_cli_triage_queues_the_updates_for_the_webhooks(settings: Settings):
    a = alert()
    db = _stored(settings, a)
    with db.session() as session:
        create_subscription(
            session,
            settings.model_copy(update={"webhook_allow_private": True}),
            NewSubscription(url="http://127.0.0.1:9/pd", format="pagerduty", routing_key="R" * 32),
        )
    assert runner.invoke(app, ["alerts", "ack", a.id]).exit_code == 0
    assert runner.invoke(app, ["alerts", "resolve", a.id, "--disposition", "benign"]).exit_code == 0
    assert runner.invoke(app, ["alerts", "reopen", a.id]).exit_code == 0
    with db.session() as session:
        queued = list(session.scalars(select(Delivery).order_by(Delivery.seq)))
    assert [(d.event, d.alert["status"], d.alert["disposition"]) for d in queued] == [
        ("alert.updated", "acknowledged", None),
        ("alert.updated", "resolved", "benign"),
        ("alert.updated", "open", None),
    ]


def test_assign_note_and_show(settings: Settings):
    a = alert()
    _stored(settings, a)
    assert runner.invoke(app, ["alerts", "assign", a.id, "sam", "--actor", "kim"]).exit_code == 0
    assert runner.invoke(app, ["alerts", "note", a.id, "looks like the deploy role"]).exit_code == 0
    shown = runner.invoke(app, ["alerts", "show", a.id, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    body = orjson.loads(shown.stdout)
    assert (body["id"], body["assignee"], body["status"]) == (a.id, "sam", "open")
    assert [(h["actor"], h["assignee_to"], h["note"]) for h in body["history"]] == [
        ("kim", "sam", None),
        (getpass.getuser(), None, "looks like the deploy role"),
    ]
    text = runner.invoke(app, ["alerts", "show", a.id, "--format", "text"], env={"COLUMNS": "200"})
    assert "looks like the deploy role" in text.stdout
    assert runner.invoke(app, ["alerts", "assign", a.id]).exit_code == 0
    assert orjson.loads(runner.invoke(app, ["alerts", "show", a.id]).stdout)["assignee"] is None


def test_an_unknown_alert_fails_with_a_message_and_a_bad_verdict_is_usage(settings: Settings):
    a = alert()
    _stored(settings, a)
    missing = runner.invoke(app, ["alerts", "ack", "no-such-id"])
    assert isinstance(missing.exception, CommandFailed)  # main() prints it and exits 1
    assert "no alert with id no-such-id" in str(missing.exception)
    bad = runner.invoke(app, ["alerts", "resolve", a.id, "--disposition", "maybe"])
    assert bad.exit_code == 2


def test_suppressions_create_list_delete(settings: Settings):
    created = runner.invoke(
        app,
        [
            "suppressions",
            "create",
            "--rule",
            "aws_root_account_usage",
            "--source-cidr",
            "203.0.113.0/24",
            "--reason",
            "pen test",
            "--expires",
            "2099-01-01T00:00:00Z",
        ],
    )
    assert created.exit_code == 0, created.output
    sid = created.stdout.strip()
    listed = runner.invoke(app, ["suppressions", "list", "--format", "jsonl"])
    [row] = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert (row["id"], row["rule_id"], row["source_cidr"]) == (
        sid,
        "aws_root_account_usage",
        "203.0.113.0/24",
    )
    assert row["created_by"] == getpass.getuser()
    db = open_database(settings)
    with db.session() as session:
        assert [s.id for s in active_suppressions(session)] == [sid]
    assert runner.invoke(app, ["suppressions", "delete", sid]).exit_code == 0
    assert runner.invoke(app, ["suppressions", "list", "--format", "jsonl"]).stdout == ""
    gone = runner.invoke(app, ["suppressions", "delete", sid])
    assert isinstance(gone.exception, CommandFailed)
    assert "no suppression" in str(gone.exception)
    empty = runner.invoke(app, ["suppressions", "create", "--reason", "nothing to match"])
    assert isinstance(empty.exception, CommandFailed)
    assert "needs rule_id" in str(empty.exception)
