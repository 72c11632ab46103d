"""A score run killed (SIGKILL-like) at any step and run again ends exactly like one clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.alerts.models import AlertRow
from service.db import open_database
from service.jobs.models import JobRunRow
from service.scoring.job import CRASH_HOOK, day_range
from service.webhooks.models import Delivery
from tests.service.conftest import subscribed_home
from tests.service.scoring.conftest import DAY

pytestmark = pytest.mark.slow


def _score(settings: Settings, source: Path, **env: str) -> subprocess.Popen[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FUNCTRAIL_")}
    environ.update(FUNCTRAIL_HOME=str(settings.home), **env)
    command = [
        str(Path(sys.executable).with_name("functrail")),
        "score",
        "--date",
        DAY.isoformat(),
        str(source),
    ]
    return subprocess.Popen(
        command, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _state(settings: Settings) -> dict[str, Any]:
    db = open_database(settings)
    try:
        with db.session() as session:
            alerts = {r.id: (r.count, r.status) for r in session.scalars(select(AlertRow))}
            deliveries = sorted((d.alert_id, d.event) for d in session.scalars(select(Delivery)))
            runs = [r.status for r in session.scalars(select(JobRunRow).order_by(JobRunRow.id))]
    finally:
        db.dispose()
    ids = EventLake(settings.lake_root).read(*day_range(DAY), columns=["id"])["id"]
    return {"alerts": alerts, "deliveries": deliveries, "lake": sorted(ids), "runs": runs}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, simulated_day: Path) -> dict[str, Any]:
    settings = subscribed_home(tmp_path_factory.mktemp("clean") / "home")
    assert _score(settings, simulated_day).wait(timeout=240) == 0
    state = _state(settings)
    assert state["alerts"]
    assert state["deliveries"]
    return state


@pytest.mark.parametrize("step", ["ingested", "detected", "saved"])
def test_killed_at_a_step_then_rerun_matches_a_clean_run(
    tmp_path: Path, simulated_day: Path, clean: dict[str, Any], step: str
) -> None:
    settings = subscribed_home(tmp_path / "home")
    assert _score(settings, simulated_day, **{CRASH_HOOK: step}).wait(timeout=240) == 137
    assert _state(settings)["alerts"] == {}  # nothing committed before the end

    assert _score(settings, simulated_day).wait(timeout=240) == 0

    state = _state(settings)
    for part in ("alerts", "deliveries", "lake"):
        assert state[part] == clean[part]
    assert state["runs"] == ["failed", "succeeded"]  # the killed run is marked interrupted


@pytest.mark.parametrize("delay", [1.5, 4.0])
def test_sigkilled_after_a_delay_then_rerun_matches_a_clean_run(
    tmp_path: Path, simulated_day: Path, clean: dict[str, Any], delay: float
) -> None:
    settings = subscribed_home(tmp_path / "home")
    process = _score(settings, simulated_day)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    assert _score(settings, simulated_day).wait(timeout=240) == 0
    state = _state(settings)
    for part in ("alerts", "deliveries", "lake"):
        assert state[part] == clean[part]
