from __future__ import annotations

import pytest
from typer.testing import CliRunner

import service.cli.commands  # noqa: F401  (registers every command)
from models.registry import ModelRegistry
from pipelines.lake import EventLake
from service.cli.app import app
from tests.factories import routine_activity


def run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def lake(settings):
    EventLake(settings.lake_root).append(routine_activity(6, principals=4, per_hour=5))
    return settings


@pytest.mark.slow
def test_train_registers_a_version_and_models_list_marks_it_active(lake):
    result = run("train", "--from", "2026-03-02", "--to", "2026-03-07", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "v0001"
    listed = run("models", "list")
    assert listed.stdout.startswith("* v0001")
    manifest = ModelRegistry(lake.models_dir).versions()[0]
    assert manifest["parameters"]["seed"] == 3
    assert manifest["training_span"]["start"].startswith("2026-03-02")


@pytest.mark.slow
def test_activate_and_rollback_move_the_active_version(lake):
    for _ in range(2):
        assert run("train", "--from", "2026-03-02", "--to", "2026-03-07").exit_code == 0
    assert ModelRegistry(lake.models_dir).active() == "v0002"
    rolled = run("models", "rollback")
    assert rolled.exit_code == 0
    assert rolled.stdout.strip() == "v0001"
    assert run("models", "activate", "v0002").exit_code == 0
    assert ModelRegistry(lake.models_dir).active() == "v0002"


def test_rollback_with_nothing_before_fails_with_exit_1(settings):
    result = run("models", "rollback")
    assert result.exit_code == 1


def test_activate_unknown_version_fails(settings):
    assert run("models", "activate", "v0042").exit_code == 1


def test_train_on_an_empty_lake_fails_with_a_message(settings):
    result = run("train", "--from", "2026-03-02", "--to", "2026-03-03")
    assert result.exit_code == 1
