"""Migrations run on start, are safe to repeat, and leave one linear head."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from pipelines.settings import Settings
from service.db import open_database
from service.migrations import alembic_config, head_revision
from tests.service.conftest import PG_URL, _drop_schema


def test_migration_history_is_linear():
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1


def test_database_is_at_head_with_every_table(database):
    with database.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == head_revision()
    tables = set(inspect(database.engine).get_table_names())
    assert {"alerts", "alert_triage", "api_keys", "suppressions", "audit_log", "job_runs"} <= tables


def test_concurrent_starts_on_sqlite_migrate_once(tmp_path):
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    with ThreadPoolExecutor(4) as pool:
        dbs = list(pool.map(lambda _: open_database(settings), range(4)))
    with dbs[0].engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert conn.execute(text("PRAGMA cache_size")).scalar_one() == -16_384  # 16 MiB


@pytest.mark.integration
def test_concurrent_starts_on_postgresql_migrate_once(tmp_path):
    schema = f"ft_test_{uuid.uuid4().hex[:12]}"
    settings = Settings(home=tmp_path, database_url=PG_URL)
    try:
        with ThreadPoolExecutor(4) as pool:
            dbs = list(pool.map(lambda _: open_database(settings, schema=schema), range(4)))
        with dbs[0].engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v for (v,) in versions] == [head_revision()]
        for db in dbs:
            db.dispose()
    finally:
        _drop_schema(schema)
