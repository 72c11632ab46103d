"""One micro-batch at a time: a backlog is worked off in bounded batches, a failing source
does not hold the others back, repeats are not detected twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pipelines.lake import EventLake
from service.watch.loop import Watcher
from tests.factories import BASE_TIME, cloudtrail_record
from tests.service.watch.helpers import drop, stop_logging, stored_alerts


def test_a_backlog_is_taken_in_bounded_batches_back_to_back(settings, db, tmp_path: Path):
    folder = tmp_path / "in"
    records = [stop_logging(BASE_TIME + timedelta(minutes=n), trail=f"t{n}") for n in range(5)]
    for n, record in enumerate(records):
        drop(folder, f"{n}.json", record)
    watcher = Watcher(settings, db, [str(folder)], pushes=False)
    watcher.runner.max_blobs = 2
    reports = [watcher.step() for _ in range(3)]
    assert [r.blobs for r in reports] == [2, 2, 1]
    assert [r.backlog for r in reports] == [True, True, False]
    assert "more waiting" in reports[0].line()
    stored = EventLake(settings.lake_root).read(columns=["id"])["id"]
    assert sorted(stored) == sorted(r["eventID"] for r in records)
    assert len(stored_alerts(settings)) == 5


def test_a_failing_source_is_reported_and_the_others_still_land(settings, db, tmp_path: Path):
    folder = tmp_path / "in"
    drop(folder, "a.json", stop_logging(BASE_TIME))
    watcher = Watcher(
        settings,
        db,
        [str(folder), "gcp-logging://demo-proj?endpoint=http://127.0.0.1:9"],
        pushes=False,
    )
    report = watcher.step()
    assert report.blobs == 1
    assert list(report.errors) == ["gcp-logging://demo-proj"]
    assert "gcp-logging://demo-proj failed" in report.line()
    assert len(stored_alerts(settings)) == 1
    assert watcher.status[str(folder)].last_error is None
    assert watcher.status["gcp-logging://demo-proj"].last_error


def test_a_changed_file_is_read_again_and_only_its_new_records_detected(
    settings, db, tmp_path: Path
):
    folder = tmp_path / "in"
    first = cloudtrail_record()
    drop(folder, "a.json", first)
    watcher = Watcher(settings, db, [str(folder)], pushes=False)
    assert watcher.step().detected == 1
    assert watcher.step().blobs == 0
    drop(folder, "a.json", first, stop_logging(BASE_TIME))
    again = watcher.step()
    assert again.blobs == 1
    assert again.events == 2
    assert again.new == 1
    assert again.detected == 1
