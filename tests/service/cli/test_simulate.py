from __future__ import annotations

import orjson
import typer
from typer.testing import CliRunner

import service.cli.simulate  # noqa: F401  (registers the command)
from pipelines.simulate import ATTACKS
from service.cli.app import app


def run(*args: str):
    # With a single registered command Typer collapses the group; invoke it either way.
    grouped = hasattr(typer.main.get_command(app), "commands")
    return CliRunner().invoke(app, ["simulate", *args] if grouped else list(args))


def test_simulate_writes_logs_and_labels_and_summarizes_on_stderr(tmp_path):
    result = run(
        *("--days", "1", "--out", str(tmp_path), "--seed", "3", "--scale", "0.05"),
        *("--attack", "root-login", "--attack", "gcp-sa-key", "--start", "2026-04-01"),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "events (aws" in result.stderr
    assert "2 attacks injected" in result.stderr
    labels = [orjson.loads(line) for line in (tmp_path / "labels.jsonl").read_bytes().splitlines()]
    assert sorted(lb["scenario"] for lb in labels) == ["gcp-sa-key", "root-login"]
    assert all(lb["start"].startswith("2026-04-01") for lb in labels)
    assert list((tmp_path / "aws" / "AWSLogs").rglob("*.json.gz"))


def test_unknown_attack_is_bad_usage_listing_valid_names(tmp_path):
    result = run("--days", "1", "--out", str(tmp_path), "--attack", "nope")
    assert result.exit_code == 2
    assert "nope" in result.stderr
    for name in ATTACKS:
        assert name in result.stderr.replace("\n", "").replace("│", "").replace(" ", "")
    assert not (tmp_path / "aws").exists()


def test_existing_output_fails_without_overwrite(tmp_path):
    args = ["--days", "1", "--out", str(tmp_path), "--scale", "0.02"]
    assert run(*args).exit_code == 0
    again = run(*args)
    assert again.exit_code == 1
    assert run(*args, "--overwrite").exit_code == 0
