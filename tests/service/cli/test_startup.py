"""Start-up cost: a command imports what it runs, not the web, database and ML stacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson

from tests.factories import cloudtrail_file, public_add_permission

HEAVY = ["fastapi", "sqlalchemy", "sklearn", "uvicorn", "alembic"]
ROOT = Path(__file__).resolve().parents[3]

# The real entry point in a fresh interpreter; then the heavy packages it loaded, on stderr.
PROBE = """
import json, sys
from service.cli import main
heavy = set(json.loads(sys.argv[1]))
sys.argv = ["functrail", *sys.argv[2:]]
try:
    main()
except SystemExit:
    pass
loaded = {m.split(".")[0] for m in sys.modules} & heavy
print("LOADED" + json.dumps(sorted(loaded)), file=sys.stderr)
"""


def run_cli(tmp_path: Path, *args: str) -> tuple[bytes, list[str]]:
    """stdout of ``functrail ARGS`` run in a fresh process, and the heavy packages it loaded."""
    env = {**os.environ, "FUNCTRAIL_HOME": str(tmp_path / "home")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), *args],
        capture_output=True,
        env=env,
        check=True,
        timeout=120,
    )
    line = next(x for x in done.stderr.decode().splitlines() if x.startswith("LOADED"))
    return done.stdout, json.loads(line.removeprefix("LOADED"))


def test_help_imports_no_web_database_or_ml_package(tmp_path):
    stdout, loaded = run_cli(tmp_path, "--help")
    assert b"detect" in stdout
    assert loaded == []


def test_detect_with_rules_imports_no_web_database_or_ml_package(tmp_path):
    logs = tmp_path / "aws.json.gz"
    logs.write_bytes(cloudtrail_file(public_add_permission(), compress=True))
    stdout, loaded = run_cli(tmp_path, "detect", str(logs), "--detectors", "rules", "-f", "jsonl")
    assert [orjson.loads(line)["rule_id"] for line in stdout.splitlines()] == [
        "aws_lambda_public_add_permission"
    ]
    assert loaded == []
