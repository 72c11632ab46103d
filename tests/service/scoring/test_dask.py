"""--dask: partitions on a real LocalCluster (2 worker processes) give the local run's alerts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from pipelines.settings import Settings
from service.alerts.models import AlertRow
from service.db import open_database
from service.scoring.job import score_day
from service.scoring.runner import DaskRunner
from tests.service.scoring.conftest import DAY

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _alerts(settings: Settings, runner: DaskRunner | None, source: Path) -> dict[str, int]:
    db = open_database(settings)
    try:
        result = score_day(DAY, [str(source)], settings, db, runner=runner, part_events=1000)
        assert result.partitions > 1
        with db.session() as session:
            return {r.id: r.count for r in session.scalars(select(AlertRow))}
    finally:
        db.dispose()


def test_dask_run_stores_the_same_alerts_as_a_local_run(
    tmp_path: Path, simulated_day: Path, scheduler: str
) -> None:
    local = _alerts(Settings(home=tmp_path / "local"), None, simulated_day)
    runner = DaskRunner(scheduler)
    try:
        remote = _alerts(Settings(home=tmp_path / "dask"), runner, simulated_day)
    finally:
        runner.close()
    assert local
    assert remote == local
