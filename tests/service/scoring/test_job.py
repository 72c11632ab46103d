"""score_day: same day twice, same result; partitions do not change alerts; failures recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.alerts.models import AlertRow
from service.db import Database, open_database
from service.jobs.models import JobRunRow
from service.scoring.job import ScoreFailed, day_range, score_day
from service.webhooks.models import Delivery
from tests.factories import cloudtrail_file, cloudtrail_record
from tests.service.conftest import subscribe
from tests.service.scoring.conftest import DAY


@pytest.fixture
def db(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    database = open_database(settings)
    yield database
    database.dispose()


def _alerts(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {row.id: row.count for row in session.scalars(select(AlertRow))}


def _deliveries(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Delivery)) or 0


def _lake_ids(settings: Settings) -> list[str]:
    events = EventLake(settings.lake_root).read(*day_range(DAY), columns=["id"])
    return sorted(events["id"].tolist())


def test_scoring_a_day_twice_keeps_alerts_lake_and_deliveries(
    settings: Settings, db: Database, simulated_day: Path
) -> None:
    subscribe(db)
    first = score_day(DAY, [str(simulated_day)], settings, db)
    alerts, deliveries, lake = _alerts(db), _deliveries(db), _lake_ids(settings)
    assert first.alerts > 0
    assert deliveries > 0
    assert first.ingested == first.events

    second = score_day(DAY, [str(simulated_day)], settings, db)

    assert _alerts(db) == alerts
    assert _deliveries(db) == deliveries
    assert _lake_ids(settings) == lake
    assert second.ingested == 0
    assert second.events == first.events
    assert second.changes == {"unchanged": first.alerts}


def test_small_partitions_give_the_same_alerts_as_one(
    settings: Settings, db: Database, simulated_day: Path
) -> None:
    score_day(DAY, [str(simulated_day)], settings, db)
    whole = _alerts(db)
    other = Settings(home=settings.home / "other")
    other_db = open_database(other)
    try:
        result = score_day(DAY, [str(simulated_day)], other, other_db, part_events=1000)
        assert result.partitions > 1
        assert _alerts(other_db) == whole
    finally:
        other_db.dispose()


def test_scoring_without_sources_reads_what_the_lake_holds(
    settings: Settings, db: Database, simulated_day: Path
) -> None:
    ingested = score_day(DAY, [str(simulated_day)], settings, db)
    from_lake = score_day(DAY, [], settings, db)
    assert from_lake.events == ingested.events
    assert from_lake.alerts == ingested.alerts


def test_job_run_records_counts_and_severities(
    settings: Settings, db: Database, simulated_day: Path
) -> None:
    result = score_day(DAY, [str(simulated_day)], settings, db)
    with db.session() as session:
        row = session.get(JobRunRow, result.run_id)
        assert row is not None
        assert row.status == "succeeded"
        assert row.kind == "score"
        assert row.counts["events"] == result.events
        assert sum(row.counts["alerts_by_severity"].values()) == result.alerts
        assert set(row.counts["seconds"]) == {"ingest", "detect", "coverage", "store"}


def test_job_run_counts_dropped_fields_by_field_and_reason(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    records = [cloudtrail_record(resources=["arn:aws:lambda:x"]), cloudtrail_record()]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "trail.json").write_bytes(cloudtrail_file(*records))
    result = score_day(DAY, [str(tmp_path / "in")], settings, db)
    assert result.events == 2
    with db.session() as session:
        row = session.get(JobRunRow, result.run_id)
        assert row is not None
        assert row.counts["dropped_fields"] == {"resources": {"Expected `object`, got `str`": 1}}


def test_missing_source_fails_the_run_with_why(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with pytest.raises(ScoreFailed):
        score_day(DAY, [str(tmp_path / "nowhere")], settings, db)
    with db.session() as session:
        row = session.scalars(select(JobRunRow)).one()
        assert row.status == "failed"
        assert row.error is not None
        assert "nowhere" in row.error


def test_run_left_running_by_a_killed_job_is_marked_interrupted(
    settings: Settings, db: Database, simulated_day: Path
) -> None:
    from service.jobs.store import record_job_run

    with db.session() as session:
        stale = record_job_run(session, "score", {"date": DAY.isoformat()})
    score_day(DAY, [str(simulated_day)], settings, db)
    with db.session() as session:
        row = session.get(JobRunRow, stale)
        assert row is not None
        assert row.status == "failed"
        assert row.error is not None
        assert "interrupted" in row.error


def test_a_rule_an_admin_switched_off_raises_nothing(
    settings: Settings, db: Database, simulated_day: Path
) -> None:
    from service.rules.store import set_rule_enabled

    score_day(DAY, [str(simulated_day)], settings, db)
    with db.session() as session:
        fired = {row.rule_id for row in session.scalars(select(AlertRow))}
    assert fired
    silenced = sorted(fired)[0]
    other = Settings(home=settings.home / "switched")
    other_db = open_database(other)
    try:
        with other_db.session() as session:
            set_rule_enabled(session, silenced, False, actor="test")
        score_day(DAY, [str(simulated_day)], other, other_db)
        with other_db.session() as session:
            rules = {row.rule_id for row in session.scalars(select(AlertRow))}
    finally:
        other_db.dispose()
    assert rules == fired - {silenced}
