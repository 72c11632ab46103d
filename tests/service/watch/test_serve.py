"""``functrail serve`` with ``FUNCTRAIL_WATCH_SOURCES``: the watcher runs in the API process,
takes the pushes too, and shows its lag in ``/metrics`` and stale sources in ``/readyz``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.settings import Settings
from service.db import Database
from service.watch.loop import Watcher
from tests.factories import BASE_TIME, cloudtrail_file, cloudtrail_record, public_add_permission
from tests.service.api.conftest import Api, make_api
from tests.service.watch.helpers import drop, stop_logging, wait_for


@pytest.fixture
def watching(fresh_database: tuple[Database, Path], tmp_path: Path) -> Iterator[tuple[Api, Path]]:
    folder = tmp_path / "in"
    folder.mkdir()
    api = make_api(fresh_database, watch_sources=[str(folder)], watch_interval=0.2)
    with api.client:
        yield api, folder


def _rules(api: Api) -> list[str]:
    with api.db.session() as session:
        from sqlalchemy import select

        from service.alerts.models import AlertRow

        return sorted(session.scalars(select(AlertRow.rule_id)))


def test_serve_watches_the_folder_and_the_pushes(watching):
    api, folder = watching
    drop(folder, "stop.json", stop_logging(BASE_TIME + timedelta(minutes=3)))
    wait_for(lambda: "aws_cloudtrail_stop_logging" in _rules(api), 15, "file not detected")

    pushed = api.client.post(
        "/v1/events",
        content=cloudtrail_file(public_add_permission()),
        headers=api.headers("ingest"),
    )
    assert pushed.status_code == 200
    wait_for(lambda: len(_rules(api)) == 2, 15, f"push not detected: {_rules(api)}")
    assert api.state.watcher is not None
    assert api.state.watcher.lease.held


def test_metrics_give_the_lag_of_each_source(watching):
    api, folder = watching
    drop(folder, "stop.json", stop_logging(BASE_TIME))
    wait_for(lambda: _rules(api), 15)
    text = api.client.get("/metrics").text
    source = str(folder.absolute())
    assert f'functrail_watch_lag_seconds_count{{source="{source}"}} 1.0' in text
    assert f'functrail_watch_stale{{source="{source}"}} 0.0' in text
    assert "functrail_watch_writer 1.0" in text


def test_readyz_names_a_stale_source(watching):
    api, folder = watching
    watcher = api.state.watcher
    assert watcher is not None
    wait_for(lambda: watcher.last_batch is not None, 15)
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["watch"] is True
    source = str(folder.absolute())

    def refused(_budget: object) -> list:
        raise PermissionError(13, "Permission denied", source)

    watcher.inputs[0].poll = refused
    wait_for(lambda: watcher.status[source].last_error, 15)
    watcher.status[source].last_ok = time.time() - 3600  # as if it had failed for an hour
    stale = api.client.get("/readyz")
    assert stale.status_code == 503
    assert stale.json()["stale_sources"] == [source]
    assert "Permission denied" in (watcher.status[source].last_error or "")


def test_without_watch_sources_there_is_no_watcher(api):
    assert api.state.watcher is None
    assert "watch" not in api.client.get("/readyz").json()["checks"]


def test_watch_sources_are_read_space_or_comma_separated(monkeypatch):
    monkeypatch.setenv("FUNCTRAIL_WATCH_SOURCES", "s3://trail/a, /var/log/ct sqs://q")
    assert Settings().watch_sources == ["s3://trail/a", "/var/log/ct", "sqs://q"]


def test_a_standalone_watcher_takes_the_writer_role_from_a_serve_push_drainer(api):
    """``functrail watch`` beside a ``functrail serve`` that drains pushes: the drainer lets
    the lease go between ticks, the watcher keeps it and detects the pushes."""

    def push(record: dict) -> None:
        answer = api.client.post(
            "/v1/events", content=cloudtrail_file(record), headers=api.headers("ingest")
        )
        assert answer.status_code == 200

    push(cloudtrail_record())
    assert api.drain() == 1
    assert api.state.drainer.lease.held  # serve's push writer has the writer role
    watcher = Watcher(api.settings, api.db, [], interval=0.2)
    try:
        wait_for(watcher.lease.acquire, 10, "the push drainer kept the writer lease")
        push(public_add_permission())
        time.sleep(1.5)  # a drainer tick: it finds the lease held and leaves the push alone
        assert api.drain() == 0
        report = watcher.step()
        assert report.pushed == 1
        assert _rules(api) == ["aws_lambda_public_add_permission"]
    finally:
        watcher.lease.release()
