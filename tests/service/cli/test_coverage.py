"""``functrail coverage`` through the real Typer app, over a real lake."""

from __future__ import annotations

from datetime import timedelta

import orjson
from typer.testing import CliRunner

from pipelines.lake import EventLake
from service.cli import app
from tests.detectors.coverage.conftest import AT, BEGIN, steady
from tests.factories import ACCOUNT, events

runner = CliRunner()
HOUR = timedelta(hours=1)


def test_json_gives_the_items_of_get_v1_coverage(settings):
    EventLake(settings.lake_root).append(events(*steady(BEGIN, AT - 10 * HOUR, 4)))
    result = runner.invoke(app, ["coverage", "--at", AT.isoformat(), "--format", "json"])
    assert result.exit_code == 0, result.output
    [item] = orjson.loads(result.stdout)["items"]
    assert (item["account"], item["status"]) == (ACCOUNT, "silent")
    assert item["reasons"][0].startswith("no events for 10 h")


def test_table_names_each_account_with_its_status(settings):
    EventLake(settings.lake_root).append(events(*steady(BEGIN, AT, 4)))
    result = runner.invoke(
        app, ["coverage", "--at", AT.isoformat(), "--format", "table"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert ACCOUNT in result.stdout
    assert " ok " in result.stdout


def test_a_bad_time_is_bad_usage(settings):
    result = runner.invoke(app, ["coverage", "--at", "yesterday"])
    assert result.exit_code == 2
