"""A small simulated day with every attack: the input the scoring tests share (written once)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines.simulate import simulate

DAY = date(2026, 3, 2)


@pytest.fixture(scope="session")
def simulated_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, 1, 3, ["all"], DAY, 0.05)
    return out
