"""A scored day is visible to operators through ``GET /v1/jobs``."""

from __future__ import annotations

from pathlib import Path

from service.db import Database
from service.scoring.job import score_day
from tests.factories import cloudtrail_file, cloudtrail_record
from tests.service.api.conftest import make_api
from tests.service.scoring.conftest import DAY


def test_score_run_is_listed_with_its_counts(
    fresh_database: tuple[Database, Path], tmp_path: Path
) -> None:
    api = make_api(fresh_database)
    (tmp_path / "trail.json").write_bytes(cloudtrail_file(cloudtrail_record(), cloudtrail_record()))
    with api.client:
        result = score_day(DAY, [str(tmp_path / "trail.json")], api.settings, api.db)
        items = api.client.get("/v1/jobs?kind=score", headers=api.headers("viewer")).json()["items"]
    [run] = items
    assert run["id"] == result.run_id
    assert run["status"] == "succeeded"
    assert run["params"]["date"] == DAY.isoformat()
    assert run["counts"]["events"] == 2
    assert run["finished_at"] is not None
