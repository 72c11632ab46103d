"""``functrail events search`` through the real Typer app, over a real lake."""

from __future__ import annotations

from datetime import timedelta

import orjson
from typer.testing import CliRunner

from pipelines.lake import EventLake
from service.cli import app
from tests.factories import BASE_TIME, HOSTILE, events, hour_event

runner = CliRunner()
DAY = ["--since", "2026-03-02T00:00:00Z", "--until", "2026-03-03T00:00:00Z"]


def test_jsonl_lists_matching_events_newest_first_across_pages(settings):
    rows = [hour_event(time=BASE_TIME + timedelta(seconds=i), action="Invoke") for i in range(7)]
    EventLake(settings.lake_root).append(events(*rows, hour_event(action="GetFunction")))
    result = runner.invoke(
        app, ["events", "search", *DAY, "--action", "Invoke", "--format", "jsonl", "--limit", "5"]
    )
    assert result.exit_code == 0, result.output
    items = [orjson.loads(line) for line in result.stdout.splitlines()]
    expected = sorted(rows, key=lambda r: r["time"], reverse=True)[:5]
    assert [i["id"] for i in items] == [r["id"] for r in expected]
    assert all("raw" not in item for item in items)


def test_include_raw_adds_the_record_as_logged(settings):
    EventLake(settings.lake_root).append(events(hour_event(raw={"eventName": "Invoke"})))
    result = runner.invoke(app, ["events", "search", *DAY, "--include-raw", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["raw"] == {"eventName": "Invoke"}


def test_table_shows_hostile_text_with_control_characters_escaped(settings):
    row = hour_event(resource=HOSTILE, principal="evil\x1b[2J")
    EventLake(settings.lake_root).append(events(row))
    wide = {"COLUMNS": "400"}
    result = runner.invoke(app, ["events", "search", *DAY, "--format", "table"], env=wide)
    assert result.exit_code == 0, result.output
    assert "\x1b[2J" not in result.stdout
    assert "\\x1b" in result.stdout


def test_bad_filters_are_usage_errors_naming_the_option(settings):
    cases = {
        "--source-ip": ["--source-ip", "10.0.0.0/33"],
        "--since": ["--since", "2026-01-01T00:00:00Z", "--until", "2026-03-01T00:00:00Z"],
        "--outcome": ["--outcome", "maybe"],
        "--until": ["--until", "2200-01-01T00:00:00Z"],
    }
    for option, args in cases.items():
        result = runner.invoke(app, ["events", "search", *args])
        assert result.exit_code == 2, (option, result.output)
        assert option in result.output
