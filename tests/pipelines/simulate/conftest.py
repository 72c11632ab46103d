"""One small simulation shared by the simulator's tests: 6 days so attacks land after day 3."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from pipelines.normalize import concat_batches, normalize_blob
from pipelines.simulate import SimulationResult, simulate

START = date(2026, 3, 2)  # a Monday


@pytest.fixture(scope="package")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    out = tmp_path_factory.mktemp("sim")
    return simulate(out, days=6, seed=11, attacks=["all"], start=START, scale=0.15)


@pytest.fixture(scope="package")
def weekdays(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """Two ordinary weekdays at full scale (no attacks), seed 3 as docs/simulate.md and
    bench/pack_precision.py measure: volumes as a user would see them."""
    out = tmp_path_factory.mktemp("weekdays")
    return simulate(out, days=2, seed=3, attacks=[], start=START, scale=1.0)


def normalized(result: SimulationResult, provider: str) -> pd.DataFrame:
    """The run's events of one provider as the real normalizer reads them (no rejects)."""
    paths = [p for p in result.paths if p.relative_to(result.out).parts[0] == provider]
    batch = concat_batches(normalize_blob(p.read_bytes(), str(p)) for p in paths)
    assert batch.rejects == [], batch.rejects[:3]
    return batch.events


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
