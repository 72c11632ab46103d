"""``functrail keys ...`` and ``functrail alerts list`` through the real Typer app."""

from __future__ import annotations

from datetime import timedelta

import orjson
from typer.testing import CliRunner

from pipelines.settings import Settings
from service.alerts.store import save_alerts
from service.alerts.triage import triage
from service.cli import app
from service.db import open_database, utcnow
from service.keys.store import authenticate, server_secret
from tests.factories import alert

runner = CliRunner()


def test_keys_create_prints_the_key_alone_on_stdout(settings):
    result = runner.invoke(app, ["keys", "create", "--role", "viewer", "--name", "ci"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ft_")
    assert "shown only this once" in result.stderr
    db = open_database(settings)
    with db.session() as session:
        who = authenticate(session, lines[0], secret=server_secret(settings.home))
    assert who is not None
    assert (who.name, who.role) == ("ci", "viewer")


def test_keys_create_with_a_taken_name_fails_and_bad_role_is_usage(settings):
    assert runner.invoke(app, ["keys", "create", "--role", "admin", "--name", "x"]).exit_code == 0
    assert runner.invoke(app, ["keys", "create", "--role", "admin", "--name", "x"]).exit_code != 0
    assert runner.invoke(app, ["keys", "create", "--role", "root", "--name", "y"]).exit_code == 2


def test_keys_revoke_by_name_stops_the_key(settings):
    key = runner.invoke(
        app, ["keys", "create", "--role", "viewer", "--name", "gone"]
    ).stdout.strip()
    assert runner.invoke(app, ["keys", "revoke", "gone"]).exit_code == 0
    listed = runner.invoke(app, ["keys", "list"])
    assert "gone" in listed.stdout
    assert key not in listed.stdout
    db = open_database(settings)
    with db.session() as session:
        assert authenticate(session, key, secret=server_secret(settings.home)) is None


def test_alerts_list_jsonl_prints_every_alert_field(settings: Settings):
    db = open_database(settings)
    stored = [alert(severity="high"), alert(severity="low")]
    with db.session() as session:
        save_alerts(session, stored)
    result = runner.invoke(app, ["alerts", "list", "--format", "jsonl", "--severity", "medium"])
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == [stored[0].id]
    assert rows[0]["evidence"]["event_ids"] == stored[0].evidence.event_ids
    assert set(stored[0].model_dump()) <= set(rows[0])


def test_alerts_list_limit_pages_through_the_store(settings: Settings):
    db = open_database(settings)
    with db.session() as session:
        save_alerts(session, [alert() for _ in range(5)])
    result = runner.invoke(app, ["alerts", "list", "--format", "jsonl", "--limit", "3"])
    assert len(result.stdout.splitlines()) == 3


def test_alerts_table_escapes_control_characters(settings: Settings):
    db = open_database(settings)
    with db.session() as session:
        save_alerts(session, [alert(title="evil\x1b[31mred")])
    result = runner.invoke(app, ["alerts", "list", "--format", "table"], env={"COLUMNS": "400"})
    assert "\x1b[31m" not in result.stdout
    assert "\\x1b" in result.stdout


def test_alerts_list_shows_shadow_alerts_only_with_include_shadow(settings: Settings):
    db = open_database(settings)
    live, shadow = alert(rule_id="aws_root_account_usage"), alert()
    with db.session() as session:
        save_alerts(session, [live, shadow], shadow=lambda a: a.id == shadow.id)
    result = runner.invoke(app, ["alerts", "list", "--format", "jsonl"])
    assert [orjson.loads(line)["id"] for line in result.stdout.splitlines()] == [live.id]
    result = runner.invoke(app, ["alerts", "list", "--format", "jsonl", "--include-shadow"])
    rows = {r["id"]: r["shadow"] for r in map(orjson.loads, result.stdout.splitlines())}
    assert rows == {live.id: False, shadow.id: True}


def test_rules_stats_prints_each_rule_s_volume_with_shadow_and_verdicts(settings: Settings):
    db = open_database(settings)
    now = utcnow()
    noisy = [alert(first_seen=now - timedelta(hours=i)) for i in range(1, 4)]
    other = alert(rule_id="aws_root_account_usage", first_seen=now - timedelta(hours=1))
    with db.session() as session:
        save_alerts(session, [*noisy, other], shadow=lambda a: a.id == noisy[0].id)
        triage(session, noisy[1].id, actor="kim", status="resolved", disposition="false_positive")
    result = runner.invoke(app, ["rules", "stats", "--format", "jsonl", "--days", "3"])
    assert result.exit_code == 0, result.output
    rows = {r["rule_id"]: r for r in map(orjson.loads, result.stdout.splitlines())}
    noisy_row = rows["aws_lambda_public_add_permission"]
    assert (noisy_row["alerts"], noisy_row["shadow"]) == (3, 1)
    assert noisy_row["by_disposition"]["false_positive"] == 1
    assert len(noisy_row["by_day"]) == 3
    assert rows["aws_root_account_usage"]["alerts"] == 1
    table = runner.invoke(app, ["rules", "stats", "--format", "table"])
    assert "aws_lambda_" in table.stdout  # narrow test terminals cut the id
    assert "│ 3 " in table.stdout
    one = runner.invoke(app, ["rules", "stats", "aws_root_account_usage", "--format", "table"])
    assert (
        now.date().isoformat() in one.stdout
        or (now - timedelta(hours=1)).date().isoformat() in one.stdout
    )
