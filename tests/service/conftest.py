"""Store fixtures over both backends: SQLite always, PostgreSQL as an integration param.

Each test session gets its own PostgreSQL schema (dropped at the end); each store test runs
inside a transaction that is rolled back, so runs and tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from pipelines.settings import Settings
from service.db import Database, open_database
from service.webhooks import store
from service.webhooks.store import NewSubscription
from tests.service.api.conftest import Api, make_api

PG_URL = os.environ.get(
    "FUNCTRAIL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]


def _drop_schema(schema: str) -> None:
    url = make_url(PG_URL).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _open(backend: str, home: Path) -> tuple[Database, str | None]:
    if backend == "sqlite":
        settings = Settings(home=home, database_url=f"sqlite:///{home / 'store.db'}")
        return open_database(settings), None
    schema = f"ft_test_{uuid.uuid4().hex[:12]}"
    return open_database(Settings(home=home, database_url=PG_URL), schema=schema), schema


@pytest.fixture(scope="session", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """One migrated database per backend for the whole session."""
    db, schema = _open(request.param, tmp_path_factory.mktemp("store"))
    yield db
    db.dispose()
    if schema:
        _drop_schema(schema)


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    connection = database.engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()
    outer.rollback()
    connection.close()


@pytest.fixture(params=BACKENDS)
def fresh_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Database, Path]]:
    """A database of its own for tests that commit (the API runs its own sessions)."""
    home = tmp_path / "home"
    db, schema = _open(request.param, home)
    yield db, home
    db.dispose()
    if schema:
        _drop_schema(schema)


@pytest.fixture
def api(fresh_database: tuple[Database, Path]) -> Iterator[Api]:
    """The app over a database of its own, serving (lifespan entered) for the whole test."""
    made = make_api(fresh_database)
    with made.client:
        yield made


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """The database of the test's own data folder (SQLite), as a command would open it."""
    database = open_database(settings)
    yield database
    database.dispose()


@pytest.fixture
def webhook_subscription(db: Database) -> None:
    """A receiver for every severity (on a closed port: deliveries queue, none arrive), so a
    test can count what would have been sent."""
    subscribe(db)


def subscribe(db: Database, settings: Settings | None = None) -> None:
    """``webhook_subscription``'s receiver, in any database (``settings`` allow its private
    address; by default settings that only do that)."""
    allowing = settings or Settings(webhook_allow_private=True)
    with db.session() as session:
        store.create_subscription(
            session, allowing, NewSubscription(url="http://127.0.0.1:9/hook", min_severity="info")
        )


def subscribed_home(home: Path) -> Settings:
    """A data folder at ``home`` whose database has ``webhook_subscription``'s receiver, for
    tests that run functrail in child processes over it."""
    settings = Settings(home=home, webhook_allow_private=True)
    db = open_database(settings)
    subscribe(db, settings)
    db.dispose()
    return settings
