"""The alert database: one engine per URL, SQLite tuned for a single host, migrations on start.

SQLite runs in WAL mode with foreign keys on and a busy timeout, so the API can read while a
batch job writes. PostgreSQL (``postgresql+psycopg://``) is the production choice; sessions
there run in UTC so day buckets and timestamps mean the same on both backends.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, Text, create_engine, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from pipelines.private import create_private, private_dir
from pipelines.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 15_000
SQLITE_CACHE_KIB = 16_384
_MIGRATION_LOCK = 724517001
"""PostgreSQL advisory lock key held while creating schemas and migrating."""
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class Base(DeclarativeBase):
    """The one metadata every ORM model of ``service/`` registers on (webhooks included)."""


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (naive text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the alert store; pass an aware UTC time")
        value = value.astimezone(UTC)
        # SQLite compares the stored text: one naive UTC form keeps ordering right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return _as_utc(value)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stored_time(value: str | datetime) -> datetime:
    """A ``UTCDateTime`` column's value as the driver returns it (SQLite: its stored text),
    as the aware UTC datetime ``UTCDateTime`` would have given."""
    return _as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def stored_time_json(value: str | datetime | None) -> str | datetime | None:
    """``stored_time`` for ``orjson.dumps(..., option=OPT_UTC_Z)``: the same JSON text.

    The hot list reads its times raw (SQLAlchemy's per-value result processing was ~0.2 ms
    of its ~1.2 ms per page); SQLite's canonical stored text becomes the JSON string by
    slicing, so no datetime is built for it.
    """
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 26 and value[10] == " " and value[19] == ".":
        # SQLAlchemy's SQLite form 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC); orjson leaves
        # out a zero fraction and writes any other with six digits.
        second = f"{value[:10]}T{value[11:19]}"
        return f"{second}Z" if value.endswith("000000") else f"{second}.{value[20:]}Z"
    return stored_time(value)


class SafeText(TypeDecorator[str]):
    """Text that PostgreSQL can hold: it refuses NUL, so NUL becomes U+FFFD there (only there).

    Attacker-controlled names reach alerts; one NUL must not fail a whole batch. SQLite and the
    JSON columns (evidence, tags) keep NUL verbatim.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is not None and dialect.name == "postgresql" and "\x00" in value:
            return value.replace("\x00", "\ufffd")
        return value


def utcnow() -> datetime:
    """Now, aware, in UTC: the only clock the store uses."""
    return datetime.now(UTC)


def make_engine(url: str, *, schema: str | None = None, **kwargs: Any) -> Engine:
    """An engine with the connection settings functrail relies on (WAL, FKs, UTC, timeouts).

    ``schema`` puts every table of a PostgreSQL database in that schema (tests use one each).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # 0600 before SQLite opens it: its -wal and -shm files then take the same mode.
            private_dir(Path(parsed.database).parent, narrow=False)
            create_private(parsed.database)
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, connect_args={"options": postgres_options(schema)}, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


def postgres_options(schema: str | None = None) -> str:
    """The session settings of every PostgreSQL connection: UTC, a statement timeout, and
    the schema (tests use one each)."""
    options = "-c timezone=UTC -c statement_timeout=30000"
    return f"{options} -c search_path={schema}" if schema else options


PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection idle longer than this is pinged before it is handed out."""


def _ping_when_idle(engine: Engine) -> None:
    """Ping pooled connections that sat idle, not every checkout (``pool_pre_ping``).

    A ping is a round trip: on the alert list it cost 0.2 ms of client CPU and 0.6 ms of
    wall time per request, plus the server's work. A connection handed back less than
    ``PING_AFTER_IDLE_SECONDS`` ago was working then; one that sat longer (a restart may
    have cut it) is pinged, and replaced by a fresh one if the ping fails.
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _handed_out(dbapi: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi)
        except Exception as exc:  # the pool retries the checkout with a new connection
            raise DisconnectionError("pooled connection is gone") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 16 MiB of page cache per connection (SQLite's default is 2 MiB): the pages the alert
    # list keeps rereading stay in memory instead of being read again from the OS
    # (bench pages at 1M alerts: 0.80 -> 0.71 ms CPU per page; 64 MiB or mmap did no better).
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


@dataclass(frozen=True)
class Database:
    """An engine and its session factory: what every command and the API are handed."""

    engine: Engine
    sessions: sessionmaker[Session]
    schema: str | None = None
    """the PostgreSQL schema every table is in (None: the server's default)"""

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends cleanly and rolls back otherwise."""
        with self.sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def reads(self) -> Iterator[Connection]:
        """A Core connection for reads that need no transaction around them (one statement
        each), without a Session's bookkeeping (the alert list: ~0.06 ms per page).

        On PostgreSQL it runs in autocommit: no BEGIN before the statement and no ROLLBACK
        when the connection goes back to the pool, two round trips fewer (the alert list:
        0.84 -> 0.65 ms CPU, 1.71 -> 1.28 ms wall per page). SQLite keeps its defaults:
        switching its isolation level per checkout cost more than it saved.
        """
        with self.engine.connect() as connection:
            if self.engine.dialect.name == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(
    settings: Settings, *, migrate: bool = True, schema: str | None = None
) -> Database:
    """Connect to ``settings.database`` and bring its schema to the newest revision.

    The data folder is narrowed to 0700 on the way: what is in it (the SQLite database, the
    lake, secrets) is then out of other users' reach whatever the files' own modes.
    """
    private_dir(settings.home)
    engine = make_engine(settings.database, schema=schema)
    if schema and engine.dialect.name == "postgresql":
        if not _IDENTIFIER.fullmatch(schema):
            raise ValueError(f"schema name {schema!r} is not a plain identifier")
        with engine.begin() as connection:
            # IF NOT EXISTS still races in PostgreSQL: serialize with the migration lock.
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    if migrate:
        upgrade(engine, lock_dir=settings.home)
    return Database(engine, sessionmaker(engine, expire_on_commit=False), schema)


def upgrade(engine: Engine, *, lock_dir: Path | None = None) -> None:
    """``alembic upgrade head``, serialized so that concurrent starts do not race.

    PostgreSQL takes a transaction-level advisory lock; SQLite, a file lock beside the home
    (SQLite's own lock does not cover Alembic's check-then-create of its version table).
    """
    from service.migrations import run_upgrade

    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
            run_upgrade(connection)
        return
    folder = lock_dir or Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".migrate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with engine.begin() as connection:
                run_upgrade(connection)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
