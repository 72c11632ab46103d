"""``functrail prune`` through the real Typer app, and the daily prune inside ``serve``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime

import orjson
from sqlalchemy import update
from typer.testing import CliRunner

from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.alerts.models import AlertRow
from service.alerts.store import save_alerts
from service.alerts.triage import triage
from service.cli import app
from service.db import open_database
from service.retention.schedule import PruneScheduler, start_pruner
from tests.factories import alert, event, events
from tests.service.test_scheduling import shifted_clock

runner = CliRunner()


def old_data(settings: Settings) -> str:
    """A lake day 400 days old and a resolved alert of then (both past the defaults); returns
    the partition's name."""
    then = datetime.now(UTC) - timedelta(days=400)
    EventLake(settings.lake_root).append(events(event(time=then)))
    db = open_database(settings)
    try:
        with db.session() as session:
            made = alert(first_seen=then, last_seen=then)
            save_alerts(session, [made], now=then)
            triage(session, made.id, actor="kim", status="resolved")
            session.execute(update(AlertRow).values(updated_at=then))
    finally:
        db.dispose()
    return f"aws/{then.date().isoformat()}"


def test_dry_run_says_what_it_would_delete_and_deletes_nothing(settings):
    partition = old_data(settings)
    result = runner.invoke(app, ["prune", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("lake: would delete 1 partition(s) before ")
    assert lines[1].startswith("alerts: would delete 1 (1 resolved, 0 suppressed)")
    assert f"  would delete: {partition}" in lines
    assert len(EventLake(settings.lake_root).days()) == 1


def test_prune_deletes_and_a_second_prune_finds_nothing(settings):
    partition = old_data(settings)
    first = runner.invoke(app, ["prune", "--format", "json"])
    assert first.exit_code == 0, first.output
    body = orjson.loads(first.stdout)
    assert body["dry_run"] is False
    assert body["lake"]["partitions"] == [partition]
    assert body["alerts"]["count"] == 1
    assert EventLake(settings.lake_root).days() == []
    again = orjson.loads(runner.invoke(app, ["prune", "--format", "json"]).stdout)
    assert (again["lake"]["partitions"], again["alerts"]["count"]) == ([], 0)


def test_serve_prunes_at_its_daily_slot(settings):
    old_data(settings)
    now = datetime.now(UTC)
    slot = (now + timedelta(seconds=1)).replace(microsecond=0)
    pruner = PruneScheduler(
        settings,
        dtime(slot.hour, slot.minute, slot.second),
        clock=shifted_clock(slot - timedelta(seconds=0.3)),
    )
    pruner.start()
    try:
        deadline = time.monotonic() + 10
        while pruner.last is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        pruner.stop()
    assert pruner.last is not None
    assert len(pruner.last.partitions) == 1
    assert EventLake(settings.lake_root).days() == []


def test_off_starts_no_pruner(settings):
    assert start_pruner(settings.model_copy(update={"prune_schedule": "off"})) is None
