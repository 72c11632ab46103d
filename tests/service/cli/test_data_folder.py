"""The data folder is private (0700 folders, 0600 files) and a key kept in it is warned about."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.cli.serve import _prepare
from service.db import make_engine
from tests.factories import cloudtrail_file, cloudtrail_record, event, events


def _modes(root: Path) -> dict[str, str]:
    found = {}
    for path in [root, *root.rglob("*")]:
        found[str(path.relative_to(root))] = oct(stat.S_IMODE(path.stat().st_mode))
    return found


@pytest.mark.slow
def test_what_the_commands_write_is_the_owners_only_under_a_loose_umask(tmp_path):
    home = tmp_path / "home"
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "trail.json.gz").write_bytes(cloudtrail_file(cloudtrail_record(), compress=True))
    env = {**os.environ, "FUNCTRAIL_HOME": str(home)}
    for name in ("FUNCTRAIL_DATABASE_URL", "FUNCTRAIL_LAKE", "FUNCTRAIL_MODELS"):
        env.pop(name, None)

    def functrail(*args: str) -> None:
        code = "import os, sys; os.umask(0o022); from service.cli import main; main()"
        done = subprocess.run(
            [sys.executable, "-c", code, *args], env=env, capture_output=True, check=False
        )
        assert done.returncode == 0, done.stderr.decode()

    functrail("ingest", str(logs))
    functrail("keys", "create", "--role", "viewer", "--name", "v")
    modes = _modes(home)
    assert {"lake", "functrail.db", "api-keys.secret"} <= {name.split("/")[0] for name in modes}
    loose = {
        name: mode
        for name, mode in modes.items()
        if mode != ("0o700" if (home / name).is_dir() else "0o600")
    }
    assert loose == {}


def test_lake_files_and_the_database_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        EventLake(str(tmp_path / "lake")).append(events(event()))
        make_engine(f"sqlite:///{tmp_path / 'db' / 'x.db'}").dispose()
    finally:
        os.umask(old)
    lake = _modes(tmp_path / "lake")
    assert set(lake.values()) == {"0o700", "0o600"}
    assert all(m == "0o600" for n, m in lake.items() if n.endswith(".parquet"))
    assert oct(stat.S_IMODE((tmp_path / "db" / "x.db").stat().st_mode)) == "0o600"


def test_an_existing_open_data_folder_is_narrowed_on_open(tmp_path):
    from service.db import open_database

    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    open_database(Settings(home=home)).dispose()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_serve_warns_when_the_webhook_key_sits_with_the_database(tmp_path, capsys):
    _prepare(Settings(home=tmp_path / "home"))
    assert "in the same folder as the database" in capsys.readouterr().err


@pytest.mark.parametrize(
    "changes",
    [
        {"secret_key": SecretStr("from a vault")},
        {"database_url": "postgresql+psycopg://postgres@127.0.0.1:5432/test"},
    ],
    ids=["passphrase", "database elsewhere"],
)
def test_serve_does_not_warn_when_the_key_is_kept_apart(tmp_path, capsys, changes):
    from service.webhooks.secrets import key_beside_data

    settings = Settings(home=tmp_path / "home", **changes)
    assert key_beside_data(settings) is None
    if "secret_key" in changes:
        _prepare(settings)
        assert "same folder" not in capsys.readouterr().err
