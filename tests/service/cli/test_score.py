"""``functrail score``: usage errors exit 2, a day's alerts are stored and summarized once."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import service.cli.commands  # noqa: F401  (registers the commands)
from pipelines.settings import Settings
from service.cli.app import CommandFailed, app
from service.scoring.lock import score_lock
from tests.factories import cloudtrail_file, cloudtrail_record, public_add_permission


def run(*args: str):
    return CliRunner().invoke(app, ["score", *args])


@pytest.fixture
def day_files(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    records = [cloudtrail_record(), public_add_permission()]
    (folder / "trail.json.gz").write_bytes(cloudtrail_file(*records, compress=True))
    (folder / "broken.json").write_bytes(b"{not json")
    return folder


def test_a_day_is_scored_stored_and_summarized(day_files: Path, settings: Settings) -> None:
    result = run("--date", "2026-03-02", str(day_files))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2026-03-02: 2 events (2 new, 1 rejected)")
    assert "1 alerts (1 high)" in result.stdout

    listed = CliRunner().invoke(app, ["alerts", "list", "--format", "jsonl"])
    assert "aws_lambda_public_add_permission" in listed.stdout


def test_dropped_optional_fields_are_in_the_summary(tmp_path: Path, settings: Settings) -> None:
    records = [cloudtrail_record(requestParameters="billing"), cloudtrail_record()]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "trail.json").write_bytes(cloudtrail_file(*records))
    result = run("--date", "2026-03-02", str(tmp_path / "in"))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "2026-03-02: 2 events (2 new, 0 rejected, 1 optional fields dropped)"
    )
    assert "dropped requestParameters from 1 record" in result.stderr


def test_second_score_of_a_day_changes_nothing(day_files: Path, settings: Settings) -> None:
    run("--date", "2026-03-02", str(day_files))
    again = run("--date", "2026-03-02", str(day_files))
    assert again.exit_code == 0, again.output
    assert "2 events (0 new, 1 rejected)" in again.stdout
    listed = CliRunner().invoke(app, ["alerts", "list", "--format", "jsonl"])
    assert len(listed.stdout.splitlines()) == 1


def test_events_of_other_days_are_not_scored(day_files: Path, settings: Settings) -> None:
    result = run("--date", "2026-03-03", str(day_files))
    assert result.exit_code == 0, result.output
    assert "2026-03-03: 0 events" in result.stdout


def test_backfill_scores_each_day(day_files: Path, settings: Settings) -> None:
    result = run("--from", "2026-03-01", "--to", "2026-03-03", str(day_files))
    assert result.exit_code == 0, result.output
    assert [line[:10] for line in result.stdout.splitlines()] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
    ]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--date", "2026-13-01"],
        ["--date", "2026-03-02", "--from", "2026-03-01", "--to", "2026-03-02"],
        ["--from", "2026-03-03", "--to", "2026-03-01"],
        ["--date", "2026-03-02", "--dask", "localhost:8786"],
        ["--date", "2026-03-02", "nosuch://thing"],
    ],
)
def test_bad_usage_exits_2(args: list[str], settings: Settings) -> None:
    assert run(*args).exit_code == 2


def test_missing_path_fails_with_exit_1(tmp_path: Path, settings: Settings) -> None:
    result = run("--date", "2026-03-02", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert "nowhere" in result.output


def test_unreachable_dask_scheduler_fails_with_exit_1(settings: Settings) -> None:
    result = run("--date", "2026-03-02", "--dask", "tcp://127.0.0.1:9")
    assert result.exit_code == 1


def test_score_exits_one_while_another_run_holds_the_lock(
    day_files: Path, settings: Settings
) -> None:
    with score_lock(settings):
        result = run("--date", "2026-03-02", str(day_files))
    assert result.exit_code == 1
    assert isinstance(result.exception, CommandFailed)
    assert "another score run is in progress" in str(result.exception)
    assert run("--date", "2026-03-02", str(day_files)).exit_code == 0
