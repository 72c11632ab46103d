"""``functrail watch`` on the command line: usage errors, one batch with ``--once``, its line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pipelines.writer import WriterLease
from service.cli.app import CommandFailed, app
from tests.factories import BASE_TIME
from tests.service.watch.helpers import drop, stop_logging, stored_alerts


def run(*args: str):
    return CliRunner().invoke(app, ["watch", *args])


def test_an_unknown_source_scheme_is_bad_usage(settings):
    result = run("--once", "ftp://logs.example.org/trail")
    assert result.exit_code == 2
    assert "unknown source scheme" in result.output


def test_once_runs_one_batch_and_prints_its_line(settings, tmp_path: Path):
    drop(tmp_path / "in", "a.json", stop_logging(BASE_TIME))
    result = run("--once", str(tmp_path / "in"))
    assert result.exit_code == 0, result.output
    assert "watch batch 1: 1 blobs, 0 pushed, 1 events (1 new to the lake, 1 detected)" in (
        result.stderr
    )
    assert "alerts: 1 new" in result.stderr
    assert [rule for rule, _ in stored_alerts(settings).values()] == ["aws_cloudtrail_stop_logging"]


def test_once_fails_while_another_process_is_the_writer(settings, tmp_path: Path):
    held = WriterLease(settings.home)
    assert held.acquire()
    try:
        result = run("--once", str(tmp_path))
    finally:
        held.release()
    assert isinstance(result.exception, CommandFailed)  # main() prints it and exits 1
    assert "another process holds the writer lease" in str(result.exception)
