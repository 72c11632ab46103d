"""One small simulation shared by the simulator's tests: 6 days so attacks land after day 3."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipelines.simulate import SimulationResult, simulate

START = date(2026, 3, 2)  # a Monday


@pytest.fixture(scope="package")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    out = tmp_path_factory.mktemp("sim")
    return simulate(out, days=6, seed=11, attacks=["all"], start=START, scale=0.15)


def cloudtrail_records(result: SimulationResult) -> Iterator[dict[str, Any]]:
    for path in result.paths:
        if path.name.endswith(".json.gz"):
            yield from orjson.loads(gzip.decompress(path.read_bytes()))["Records"]


def log_entries(result: SimulationResult) -> Iterator[dict[str, Any]]:
    for path in result.paths:
        if path.suffix == ".json" and "cloudaudit.googleapis.com" in path.parts:
            for line in path.read_bytes().splitlines():
                yield orjson.loads(line)


def relative_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
