"""Times read raw for the alert list: the same JSON text as UTCDateTime's aware datetimes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import select, text, type_coerce, update
from sqlalchemy.types import NullType

from service.alerts.models import AlertRow
from service.alerts.store import save_alerts
from service.db import stored_time, stored_time_json
from tests.factories import BASE_TIME, alert


def test_raw_times_give_the_json_and_datetimes_of_utcdatetime(session):
    rng = random.Random(5)
    moments = [BASE_TIME, BASE_TIME + timedelta(microseconds=1)] + [
        datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(10**17))
        for _ in range(200)
    ]
    moments += [m.replace(microsecond=0) for m in moments[2:50]]
    ids = [s.alert.id for s in save_alerts(session, [alert() for _ in moments])]
    for alert_id, moment in zip(ids, moments, strict=True):
        session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(updated_at=moment))
    typed = dict(session.execute(select(AlertRow.id, AlertRow.updated_at)).all())
    raw_column = type_coerce(AlertRow.updated_at, NullType())
    raw = dict(session.execute(select(AlertRow.id, raw_column)).all())
    for alert_id in ids:
        assert stored_time(raw[alert_id]) == typed[alert_id]
        assert orjson.dumps(stored_time_json(raw[alert_id]), option=orjson.OPT_UTC_Z) == (
            orjson.dumps(typed[alert_id], option=orjson.OPT_UTC_Z)
        )
    assert stored_time_json(None) is None


def test_sqlite_text_without_a_fraction_reads_as_utc(session):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL returns datetimes, not text")
    [saved] = save_alerts(session, [alert()])
    session.execute(
        text("UPDATE alerts SET updated_at = '2026-03-02 04:05:06' WHERE id = :id"),
        {"id": saved.alert.id},
    )
    raw = session.scalar(select(type_coerce(AlertRow.updated_at, NullType())))
    assert orjson.dumps(stored_time_json(raw), option=orjson.OPT_UTC_Z) == b'"2026-03-02T04:05:06Z"'
