"""``functrail detect``: alerts as JSON lines, rejects on stderr, stores nothing."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from service.cli.app import app
from tests.factories import (
    cloudtrail_file,
    cloudtrail_record,
    json_lines,
    log_entry,
    public_add_permission,
)

ALERT_FIELDS = {
    "id", "dedup_key", "detector", "rule_id", "title", "severity", "score", "provider",
    "account", "principal", "resource", "first_seen", "last_seen", "count", "status", "tags",
    "evidence", "explanation", "runbook",
}  # fmt: skip


def run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "aws.json.gz").write_bytes(
        cloudtrail_file(public_add_permission(), cloudtrail_record(), compress=True)
    )
    (tmp_path / "gcp.jsonl").write_bytes(json_lines(log_entry()) + b"{broken\n")
    return tmp_path


def test_detect_prints_alerts_with_every_contract_field(inputs, settings):
    result = run("detect", "--detectors", "rules", "--format", "jsonl", str(inputs))
    assert result.exit_code == 0, result.output
    alerts = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [a["rule_id"] for a in alerts] == ["aws_lambda_public_add_permission"]
    (alert,) = alerts
    assert set(alert) == ALERT_FIELDS
    assert alert["detector"] == "rule"
    assert len(alert["evidence"]["event_ids"]) == 1
    assert alert["evidence"]["sample"][0]["action"] == "AddPermission"
    assert "1 rejected" in result.stderr
    assert "gcp.jsonl record 1" in result.stderr
    assert not (settings.home / "functrail.db").exists()


def test_anomaly_without_a_trained_model_says_so_and_runs_the_rules(inputs, settings):
    result = run("detect", "--detectors", "rules,anomaly", "--format", "jsonl", str(inputs))
    assert result.exit_code == 0, result.output
    assert "no trained model" in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_unknown_detector_is_bad_usage(inputs, settings):
    result = run("detect", "--detectors", "rules,magic", str(inputs))
    assert result.exit_code == 2


def test_extra_rules_folder_is_loaded(inputs, settings, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "get.yml").write_text(
        "title: any GetFunction\n"
        "id: 5b0d7c7e-0000-4000-8000-0000000000aa\n"
        "name: my_get_function\n"
        "logsource: {product: aws}\n"
        "detection: {s: {action: GetFunction}, condition: s}\n"
        "level: low\n"
    )
    result = run("detect", "-d", "rules", "-f", "jsonl", "--rules", str(folder), str(inputs))
    assert result.exit_code == 0, result.output
    ids = {orjson.loads(line)["rule_id"] for line in result.stdout.splitlines()}
    assert ids == {"aws_lambda_public_add_permission", "my_get_function"}


def test_broken_user_rule_is_reported_and_the_rest_run(inputs, settings, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "bad.yml").write_text("title: [unclosed\n")
    result = run("detect", "-d", "rules", "-f", "jsonl", "--rules", str(folder), str(inputs))
    assert result.exit_code == 0, result.output
    assert "bad.yml" in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_missing_path_fails_with_exit_1(settings, tmp_path):
    result = run("detect", "-d", "rules", str(tmp_path / "nope"))
    assert result.exit_code == 1


def test_dropped_optional_fields_are_reported_beside_rejects(tmp_path, settings):
    entry = log_entry()
    entry["protoPayload"]["requestMetadata"] = "198.51.100.3"
    (tmp_path / "sink.jsonl").write_bytes(json_lines(entry, log_entry()))
    result = run("detect", "--detectors", "rules", "--format", "jsonl", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "dropped protoPayload.requestMetadata from 1 record" in result.stderr
    assert "2 events, 0 rejected, 1 optional fields dropped, 0 alerts" in result.stderr


def test_attacker_text_reaches_stderr_as_written_not_as_emoji(settings, tmp_path):
    # ":skull:" in a file name, resource name or user agent is text, never an emoji code.
    (tmp_path / ":skull: :warning:.json").write_text("{not json")
    result = run("detect", "-d", "rules", "-f", "jsonl", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert ":skull: :warning:.json" in result.stderr
    assert "\N{SKULL}" not in result.stderr


def test_files_read_on_forked_processes_give_the_same_alerts_and_rejects(
    inputs, settings, monkeypatch, forks
):
    from pipelines.normalize import parallel

    if not parallel._can_fork():
        pytest.skip("forked reading is Linux-only")
    (inputs / "more.json.gz").write_bytes(cloudtrail_file(cloudtrail_record(), compress=True))
    (inputs / "more.jsonl").write_bytes(json_lines(log_entry(), log_entry()))
    names = ["aws.json.gz", "gcp.jsonl", "more.json.gz", "more.jsonl"]
    files = [str(inputs / name) for name in names]  # not the home inside
    args = ("detect", "--detectors", "rules", "--format", "jsonl", *files)
    monkeypatch.setenv("FUNCTRAIL_READ_PROCESSES", "1")
    alone = run(*args)
    assert not forks
    monkeypatch.setenv("FUNCTRAIL_READ_PROCESSES", "2")
    two = run(*args)
    assert len(forks) == 1
    assert two.exit_code == alone.exit_code == 0
    assert two.stdout == alone.stdout
    assert two.stderr.splitlines()[:-1] == alone.stderr.splitlines()[:-1]  # the last: rejects file
    assert "gcp.jsonl record 1" in two.stderr
