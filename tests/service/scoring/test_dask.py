"""--dask: ingestion and detection on a real LocalCluster (2 worker processes) give exactly the
local run's lake, rejects and alerts."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from dask.utils import key_split
from distributed import get_task_stream
from sqlalchemy import select

from pipelines.ingest import task_chunks
from pipelines.lake import EventLake
from pipelines.rejects import Reject
from pipelines.runner import DaskRunner
from pipelines.settings import Settings
from pipelines.sources.local import LocalSource
from service.alerts.models import AlertRow
from service.db import open_database
from service.scoring.job import day_range, score_day
from tests.factories import cloudtrail_file, cloudtrail_record
from tests.service.scoring.conftest import DAY

pytestmark = pytest.mark.integration


@dataclass
class Outcome:
    alerts: dict[str, int]
    lake: pd.DataFrame
    files: int
    rejects: list[Reject]
    ingested: int


@pytest.fixture(scope="module")
def day_with_rejects(simulated_day: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated day plus a file of bad records, so rejects travel back from workers too."""
    folder = tmp_path_factory.mktemp("day-with-rejects") / "logs"
    shutil.copytree(simulated_day, folder)
    good = cloudtrail_record(eventTime="2026-03-02T10:00:00Z")
    (folder / "zz-bad.jsonl").write_bytes(
        b'{"not": "an audit record"}\n{broken json\n' + cloudtrail_file(good) + b"\n"
    )
    return folder


def _score(settings: Settings, runner: DaskRunner | None, source: Path) -> Outcome:
    db = open_database(settings)
    try:
        result = score_day(DAY, [str(source)], settings, db, runner=runner, part_events=1000)
        assert result.partitions > 1
        with db.session() as session:
            alerts = {r.id: r.count for r in session.scalars(select(AlertRow))}
    finally:
        db.dispose()
    events = EventLake(settings.lake_root).read(*day_range(DAY))
    files = len(list(Path(settings.lake_root).rglob("*.parquet")))
    events = events.sort_values("id", ignore_index=True)
    return Outcome(alerts, events, files, result.rejects, result.ingested)


def test_dask_run_stores_the_same_lake_rejects_and_alerts_as_a_local_run(
    tmp_path: Path, day_with_rejects: Path, dask_scheduler: str
) -> None:
    local = _score(Settings(home=tmp_path / "local"), None, day_with_rejects)
    runner = DaskRunner(dask_scheduler)
    try:
        with get_task_stream(runner.client) as stream:
            remote = _score(Settings(home=tmp_path / "dask"), runner, day_with_rejects)
    finally:
        runner.close()
    ran = Counter(key_split(task["key"]) for task in stream.data)
    files = LocalSource([str(day_with_rejects)]).refs(*day_range(DAY))
    assert ran["normalize_refs"] == len(list(task_chunks(files))) > 1  # every file, on workers
    assert ran["detect_partition"] > 1
    assert local.alerts
    assert local.rejects
    assert remote.alerts == local.alerts
    assert remote.rejects == local.rejects
    assert remote.ingested == local.ingested == len(local.lake)
    assert remote.files == local.files
    assert remote.lake.equals(local.lake)
    staging = tmp_path / "dask" / "lake" / "_staging"
    assert staging.is_dir()  # workers handed their chunks over through the lake's folder
    assert list(staging.rglob("*")) == []  # and the driver took and deleted every one
