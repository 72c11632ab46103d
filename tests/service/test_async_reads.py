"""``AsyncReads``: PostgreSQL connections lent on the event loop, replaced when they die."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from sqlalchemy.orm import sessionmaker

from service.async_reads import AsyncReads
from service.db import Database, make_engine


@pytest.fixture
def reads(database: Database) -> AsyncReads:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite is read in process, not over a connection")
    return AsyncReads(database, size=2)


async def _backend(connection: psycopg.AsyncConnection) -> int:
    """The server process of the connection, asked over it (a dead one fails here)."""
    cursor = await connection.execute("SELECT pg_backend_pid()")
    return int((await cursor.fetchall())[0][0])


def test_sequential_reads_reuse_one_connection_with_the_store_settings(reads, database):
    """The schema, UTC, and generic plans: the list's prepared statements are not planned
    again at every run."""

    async def settings(connection: psycopg.AsyncConnection) -> tuple[int, tuple[str, ...]]:
        cursor = await connection.execute(
            "SELECT current_setting('search_path'), current_setting('timezone'),"
            " current_setting('plan_cache_mode')"
        )
        return connection.info.backend_pid, tuple((await cursor.fetchall())[0])

    async def main() -> list[tuple[int, tuple[str, ...]]]:
        try:
            return [await reads.run(settings) for _ in range(3)]
        finally:
            await reads.close()

    seen = asyncio.run(main())
    assert {pid for pid, _ in seen} == {seen[0][0]}
    assert seen[0][1] == (database.schema, "UTC", "force_generic_plan")


def test_a_pooled_connection_the_server_closed_is_replaced_and_the_read_answers(reads, database):
    async def main() -> tuple[int, int]:
        try:
            first = await reads.run(_backend)
            with database.engine.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({first}, 5000)")
            return first, await reads.run(_backend)
        finally:
            await reads.close()

    first, second = asyncio.run(main())
    assert second != first


def test_a_failing_new_connection_raises_instead_of_retrying():
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    reads = AsyncReads(Database(engine, sessionmaker(engine)))
    with pytest.raises(psycopg.OperationalError):
        asyncio.run(reads.run(_backend))


def test_a_cancelled_read_does_not_go_back_to_the_pool(reads):
    cancelled: list[int] = []

    async def slow(connection: psycopg.AsyncConnection) -> int:
        cancelled.append(connection.info.backend_pid)
        await connection.execute("SELECT pg_sleep(5)")
        return connection.info.backend_pid

    async def main() -> int:
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reads.run(slow), 0.2)
            return await reads.run(_backend)
        finally:
            await reads.close()

    assert asyncio.run(main()) != cancelled[0]


def test_connections_of_a_finished_loop_are_not_lent_on_a_new_one(reads):
    first = asyncio.run(reads.run(_backend))
    second = asyncio.run(reads.run(_backend))  # a second loop, as a test client's next call
    assert second != first
    asyncio.run(reads.close())
