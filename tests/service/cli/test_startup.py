"""Start-up cost: a command imports what it runs, not the web, database and ML stacks, nor the
other commands' modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson

from service.cli.app import app
from service.cli.dispatch import COMMAND_MODULES
from tests.factories import cloudtrail_file, public_add_permission

HEAVY = {"fastapi", "sqlalchemy", "sklearn", "uvicorn", "alembic"}
ROOT = Path(__file__).resolve().parents[3]

# The real entry point in a fresh interpreter; then every module it loaded, on stderr.
PROBE = """
import json, sys
from service.cli import main
sys.argv = ["functrail", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("LOADED" + json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def run_cli(tmp_path: Path, *args: str) -> tuple[bytes, set[str]]:
    """stdout of ``functrail ARGS`` run in a fresh process, and the modules it loaded."""
    env = {**os.environ, "FUNCTRAIL_HOME": str(tmp_path / "home")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        env=env,
        check=True,
        timeout=120,
    )
    line = next(x for x in done.stderr.decode().splitlines() if x.startswith("LOADED"))
    return done.stdout, set(json.loads(line.removeprefix("LOADED")))


def packages(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_help_imports_no_web_database_or_ml_package(tmp_path):
    stdout, loaded = run_cli(tmp_path, "--help")
    assert b"detect" in stdout
    assert packages(loaded) & HEAVY == set()
    # the listing needs every command registered
    assert {f"service.cli.{m}" for ms in COMMAND_MODULES.values() for m in ms} <= loaded


def test_detect_with_rules_imports_no_web_database_or_ml_package(tmp_path):
    logs = tmp_path / "aws.json.gz"
    logs.write_bytes(cloudtrail_file(public_add_permission(), compress=True))
    stdout, loaded = run_cli(tmp_path, "detect", str(logs), "--detectors", "rules", "-f", "jsonl")
    assert [orjson.loads(line)["rule_id"] for line in stdout.splitlines()] == [
        "aws_lambda_public_add_permission"
    ]
    assert packages(loaded) & HEAVY == set()
    # only the modules of the command it runs (detect uses normalize's helpers)
    assert {m for m in loaded if m.startswith("service.cli.")} == {
        "service.cli.app",
        "service.cli.detect",
        "service.cli.dispatch",
        "service.cli.normalize",
    }


def test_detect_with_cached_rules_parses_no_rule_file(tmp_path):
    """The first run compiles the rule files (yaml, pySigma's rule parser); the next reads
    every plan from the cache and imports neither: only pySigma's value types."""
    logs = tmp_path / "aws.json.gz"
    logs.write_bytes(cloudtrail_file(public_add_permission(), compress=True))
    args = ("detect", str(logs), "--detectors", "rules", "-f", "jsonl")
    cold_out, cold = run_cli(tmp_path, *args)
    warm_out, warm = run_cli(tmp_path, *args)
    assert warm_out == cold_out
    assert len(warm_out.splitlines()) == 1
    parsers = {"yaml", "pyparsing", "sigma.rule", "sigma.correlations", "sigma.conditions"}
    assert parsers <= cold
    assert parsers & warm == set()
    assert {m for m in warm if m == "sigma" or m.startswith("sigma.")} == {
        "sigma",
        "sigma.exceptions",
        "sigma.types",
    }


def test_command_modules_name_every_module_that_registers_a_command():
    """A run that imports only ``COMMAND_MODULES[name]`` sees that command (or group, with
    every subcommand) whole: each registration's module is listed under its name."""
    found: dict[str, set[str]] = {}
    for command in app.registered_commands:
        assert command.callback is not None
        name = command.name or command.callback.__name__.lower().replace("_", "-")
        found.setdefault(name, set()).add(command.callback.__module__)
    for group in app.registered_groups:
        assert group.name is not None
        assert group.typer_instance is not None
        modules = found.setdefault(group.name, set())
        for sub in group.typer_instance.registered_commands:
            assert sub.callback is not None
            modules.add(sub.callback.__module__)
    assert found.keys() == COMMAND_MODULES.keys()
    for name, modules in found.items():
        assert modules <= {f"service.cli.{m}" for m in COMMAND_MODULES[name]}, name
