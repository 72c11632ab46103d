"""``functrail demo --no-serve``: a fresh home ends with a model, stored alerts and a key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import service.cli.commands  # noqa: F401  (registers the commands)
from pipelines.settings import Settings
from service.cli.app import app


@pytest.mark.slow
def test_demo_trains_scores_and_prints_a_working_key(tmp_path: Path, settings: Settings) -> None:
    home = tmp_path / "demo-home"
    args = ["--home", str(home), "--days", "6", "--score-days", "1", "--scale", "0.05"]
    result = CliRunner().invoke(app, ["demo", "--no-serve", *args, "--seed", "1"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "(0 rejected)" in out  # the simulated logs are clean; labels.jsonl is not input
    assert "model: v0001" in out
    assert "scored: 2026-03-07" in out
    caught = next(line for line in out.splitlines() if line.startswith("attacks caught:"))
    assert not caught.startswith("attacks caught: 0 of")
    assert "alerts matching no labelled attack on 2026-03-07: " in out
    key = next(line for line in out.splitlines() if line.startswith("analyst key: "))[13:]
    listed = CliRunner().invoke(app, ["keys", "list"], env={"FUNCTRAIL_HOME": str(home)})
    assert "demo" in listed.output
    assert key.startswith("ft_")
    assert (home / "functrail.db").exists()


def test_demo_needs_a_day_to_train_on(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["demo", "--no-serve", "--days", "3", "--score-days", "3"])
    assert result.exit_code == 2
