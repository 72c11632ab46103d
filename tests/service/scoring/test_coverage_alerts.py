"""The score job stores coverage alerts as of the scored day's end, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.alerts.models import AlertRow
from service.db import Database
from service.scoring.job import ScoreFailed, score_day
from tests.detectors.coverage.conftest import lambda_invokes, steady
from tests.factories import ACCOUNT, events

DAY = date(2026, 3, 16)
END = datetime(2026, 3, 17, tzinfo=UTC)
HOUR = timedelta(hours=1)


def coverage_rows(db: Database) -> list[AlertRow]:
    with db.session() as session:
        rows = session.scalars(select(AlertRow).where(AlertRow.detector == "coverage"))
        return list(rows)


def test_a_log_type_that_stopped_during_the_day_is_a_coverage_alert_stored_once(
    settings: Settings, db: Database
) -> None:
    lake = EventLake(settings.lake_root)
    begin = END - timedelta(days=15)
    lake.append(
        events(*steady(begin, END, 2), *steady(begin, END - 10 * HOUR, 2, **lambda_invokes()))
    )
    first = score_day(DAY, [], settings, db)
    assert first.coverage == 1
    [row] = coverage_rows(db)
    assert (row.rule_id, row.account, row.resource) == (
        "coverage_log_type_stopped",
        ACCOUNT,
        "lambda_data",
    )
    again = score_day(DAY, [], settings, db)
    assert again.coverage == 1
    assert "new" not in again.changes
    assert "updated" not in again.changes  # no second delivery for the same silence
    assert len(coverage_rows(db)) == 1


def test_a_source_failing_run_after_run_becomes_a_coverage_alert(
    settings: Settings, db: Database
) -> None:
    missing = str(settings.home / "not-mounted")
    tight = settings.model_copy(update={"coverage_source_failures": 2})
    for _ in range(2):
        with pytest.raises(ScoreFailed):
            score_day(DAY, [missing], tight, db)
    [row] = coverage_rows(db)
    assert row.rule_id == "coverage_source_failing"
    assert row.resource == missing
