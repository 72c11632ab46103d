"""The in-service scheduler: scores yesterday at its slot, records the run, never overlaps a
run holding the lock, and stops at once. Time is a real clock shifted to just before the slot."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import pytest

from pipelines.settings import Settings
from service.scheduling import Clock, ScoreScheduler, next_run, scored_day, start_scheduler
from service.scoring.job import ScoreResult
from service.scoring.lock import score_lock
from tests.factories import cloudtrail_file, cloudtrail_record
from tests.service.api.conftest import Api

SLOT = dtime(2, 30)
YESTERDAY = date(2026, 3, 2)


def shifted_clock(to: datetime) -> Clock:
    """A real clock that reads ``to`` now and runs on at real speed."""
    began = time.monotonic()
    return lambda: to + timedelta(seconds=time.monotonic() - began)


def _with_trail(api: Api, tmp_path: Path) -> Settings:
    records = [
        cloudtrail_record(eventTime="2026-03-02T10:00:00Z"),
        cloudtrail_record(eventTime="2026-03-02T23:59:59Z"),
        cloudtrail_record(eventTime="2026-03-03T01:00:00Z"),  # today: not scored yet
    ]
    (tmp_path / "trail.json").write_bytes(cloudtrail_file(*records))
    return api.settings.model_copy(
        update={"score_schedule": "02:30", "score_sources": [str(tmp_path / "trail.json")]}
    )


def _runs(api: Api) -> list[dict[str, object]]:
    response = api.client.get("/v1/jobs?kind=score", headers=api.headers("viewer"))
    items: list[dict[str, object]] = response.json()["items"]
    return items


def test_next_slot_is_today_until_it_passes_then_tomorrow() -> None:
    before = datetime(2026, 3, 3, 2, 29, 59, tzinfo=UTC)
    assert next_run(SLOT, before) == datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
    assert next_run(SLOT, before + timedelta(seconds=1)) == datetime(2026, 3, 4, 2, 30, tzinfo=UTC)
    assert scored_day(datetime(2026, 3, 3, 2, 30, tzinfo=UTC)) == YESTERDAY


def test_scheduler_scores_yesterday_at_its_slot_and_the_run_shows_in_jobs(
    api: Api, tmp_path: Path
) -> None:
    settings = _with_trail(api, tmp_path)
    done: list[ScoreResult | None] = []
    ran = threading.Event()

    def seen(result: ScoreResult | None) -> None:
        done.append(result)
        ran.set()

    clock = shifted_clock(datetime(2026, 3, 3, 2, 29, 59, 700_000, tzinfo=UTC))
    scheduler = ScoreScheduler(settings, SLOT, clock=clock, database=api.db, on_result=seen)
    scheduler.start()
    try:
        assert ran.wait(30), "the run due 0.3 s after start did not happen"
    finally:
        scheduler.stop()
    assert not scheduler.running
    [result] = done
    assert result is not None
    assert result.day == YESTERDAY
    assert result.events == 2
    [run] = _runs(api)
    assert run["id"] == result.run_id
    assert run["status"] == "succeeded"
    assert run["params"] == {
        "date": "2026-03-02",
        "sources": settings.score_sources,
        "scheduled": True,
    }


def test_a_run_while_another_holds_the_lock_is_skipped_and_recorded(
    api: Api, tmp_path: Path
) -> None:
    settings = _with_trail(api, tmp_path)
    scheduler = ScoreScheduler(settings, SLOT, database=api.db)
    with score_lock(settings):
        assert scheduler.run(YESTERDAY) is None
    [run] = _runs(api)
    assert run["status"] == "failed"
    assert "another score run is in progress" in str(run["error"])
    assert scheduler.run(YESTERDAY) is not None  # the lock is free again


def test_stop_ends_the_wait_at_once(api: Api, tmp_path: Path) -> None:
    settings = _with_trail(api, tmp_path)
    clock = shifted_clock(datetime(2026, 3, 3, 3, 0, tzinfo=UTC))  # the next slot is tomorrow
    scheduler = ScoreScheduler(settings, SLOT, clock=clock, database=api.db)
    scheduler.start()
    began = time.monotonic()
    scheduler.stop()
    assert time.monotonic() - began < 2
    assert not scheduler.running
    assert _runs(api) == []


def test_scheduler_is_off_unless_a_schedule_is_set(settings: Settings) -> None:
    assert start_scheduler(settings) is None


def test_sources_setting_takes_commas_or_spaces_as_the_deploy_examples_write_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FUNCTRAIL_SCORE_SOURCES", "s3://org-trail/ gcp-logging://p,./logs")
    assert Settings().score_sources == ["s3://org-trail/", "gcp-logging://p", "./logs"]
