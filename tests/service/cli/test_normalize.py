from __future__ import annotations

import orjson
import pytest
import typer
from typer.testing import CliRunner

from service.cli.app import app
from service.cli.normalize import printable
from tests.factories import cloudtrail_file, cloudtrail_record, json_lines, log_entry

EVENT_FIELDS = [
    "id", "time", "provider", "account", "region", "service", "action", "raw_action", "category",
    "principal", "principal_type", "session", "source_ip", "user_agent", "resource", "outcome",
    "error_code", "read_only", "mfa", "raw", "origin",
]  # fmt: skip


def run(*args: str):
    # With a single registered command Typer collapses the group; invoke it either way.
    grouped = hasattr(typer.main.get_command(app), "commands")
    return CliRunner().invoke(app, ["normalize", *args] if grouped else list(args))


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "aws.json.gz").write_bytes(
        cloudtrail_file(cloudtrail_record(eventName="AddPermission20150331v2"), compress=True)
    )
    (tmp_path / "gcp.jsonl").write_bytes(json_lines(log_entry()) + b"{broken\n")
    return tmp_path


def test_jsonl_prints_one_event_per_line_with_exactly_the_event_fields(inputs, settings):
    result = run("--format", "jsonl", str(inputs / "aws.json.gz"), str(inputs / "gcp.jsonl"))
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [list(row) for row in rows] == [EVENT_FIELDS, EVENT_FIELDS]
    assert rows[0]["action"] == "AddPermission"
    assert rows[0]["origin"] == str(inputs / "aws.json.gz")
    assert rows[0]["time"].endswith("Z")
    assert isinstance(rows[0]["raw"], dict)


def test_rejects_go_to_stderr_and_a_rejects_file_and_exit_zero(inputs, settings):
    result = run("--format", "jsonl", str(inputs))
    assert result.exit_code == 0
    assert "gcp.jsonl record 1: malformed JSON" in result.stderr
    assert "2 events, 1 rejected (see " in result.stderr
    [written] = list(settings.rejects_dir.glob("normalize-*.jsonl"))
    assert orjson.loads(written.read_bytes().splitlines()[0])["index"] == 1


def test_missing_path_exits_one(inputs, settings):
    result = run(str(inputs / "nope.json"))
    assert result.exit_code == 1


def test_same_event_in_two_files_is_printed_once(tmp_path, settings):
    record = cloudtrail_record()
    (tmp_path / "a.json").write_bytes(cloudtrail_file(record))
    (tmp_path / "b.jsonl").write_bytes(json_lines(record))
    result = run("--format", "jsonl", str(tmp_path))
    assert len(result.stdout.splitlines()) == 1


def test_table_format_escapes_terminal_control_characters(tmp_path, settings):
    (tmp_path / "a.json").write_bytes(
        cloudtrail_file(cloudtrail_record(requestParameters={"functionName": "\x1b[2Jx"}))
    )
    result = run("--format", "table", str(tmp_path))
    assert result.exit_code == 0
    assert "\x1b[2J" not in result.stdout


def test_printable_escapes_control_characters():
    assert printable("a\x1b[31mb\nc") == "a\\x1b[31mb\\x0ac"


def test_dropped_optional_fields_are_counted_on_stderr_and_the_record_printed(tmp_path, settings):
    record = cloudtrail_record(requestParameters='{"functionName": "billing"}')
    (tmp_path / "a.json").write_bytes(cloudtrail_file(record, cloudtrail_record()))
    result = run("--format", "jsonl", str(tmp_path))
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["raw"] == record
    assert rows[0]["resource"] is None
    assert "dropped requestParameters from 1 record (Expected `object | null`" in result.stderr
    assert "2 events, 0 rejected, 1 optional fields dropped" in result.stderr
