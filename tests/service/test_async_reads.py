"""``AsyncReads``: reads on the event loop, pipelined together, answered one by one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy.orm import sessionmaker

from service.async_reads import MAX_BATCH, AsyncReads
from service.db import Database, make_engine

T = TypeVar("T")
BACKEND = "SELECT pg_backend_pid()"


@pytest.fixture
def reads(database: Database) -> AsyncReads:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite is read in process, not over a connection")
    return AsyncReads(database, size=2)


def _serve(reads: AsyncReads, main: Callable[[], Awaitable[T]]) -> T:
    """``main`` on a loop of its own (a read left waiting fails it in 10 s), and the
    connections closed after it."""

    async def served() -> T:
        try:
            return await asyncio.wait_for(main(), 10)
        finally:
            await reads.close()

    return asyncio.run(served())


async def _pid(reads: AsyncReads) -> int:
    return int((await reads.fetchall(BACKEND))[0][0])


def test_sequential_reads_reuse_one_connection_with_the_store_settings(reads, database):
    """The schema, UTC, and generic plans: the list's prepared statements are not planned
    again at every run."""
    settings = (
        "SELECT pg_backend_pid(), current_setting('search_path'), current_setting('timezone'),"
        " current_setting('plan_cache_mode')"
    )

    async def main() -> list[tuple[Any, ...]]:
        return [(await reads.fetchall(settings))[0] for _ in range(3)]

    seen = _serve(reads, main)
    assert {row[0] for row in seen} == {seen[0][0]}
    assert seen[0][1:] == (database.schema, "UTC", "force_generic_plan")


def test_reads_waiting_together_go_in_one_pipeline_on_one_connection(reads):
    async def main() -> list[int]:
        return list(await asyncio.gather(*(_pid(reads) for _ in range(10))))

    # Unpipelined, the second connection would have taken every other read.
    assert len(set(_serve(reads, main))) == 1


def test_a_pipeline_carries_at_most_max_batch_reads(reads):
    async def main() -> list[int]:
        return list(await asyncio.gather(*(_pid(reads) for _ in range(MAX_BATCH + 1))))

    pids = _serve(reads, main)
    assert len(set(pids)) == 2  # the read past the batch went on the other connection


def test_without_pipeline_support_the_reads_go_one_by_one(reads, monkeypatch):
    """A libpq older than 14 has no pipeline mode: no batch tries one."""
    tried: list[object] = []

    def unsupported(*args: object, **kwargs: object) -> None:
        tried.append(args)
        raise psycopg.NotSupportedError("libpq too old")

    monkeypatch.setattr("service.async_reads.PIPELINES", False)
    monkeypatch.setattr(psycopg.AsyncConnection, "pipeline", unsupported)

    async def main() -> list[Any]:
        return list(
            await asyncio.gather(*(reads.fetchall("SELECT %s::int + 1", [n]) for n in range(6)))
        )

    assert _serve(reads, main) == [[(n + 1,)] for n in range(6)]
    assert tried == []


def test_parameters_are_bound_per_read(reads):
    async def main() -> list[Any]:
        return list(
            await asyncio.gather(*(reads.fetchall("SELECT %s::int * 2", [n]) for n in range(5)))
        )

    assert _serve(reads, main) == [[(n * 2,)] for n in range(5)]


def test_a_failing_query_gets_its_error_and_the_reads_beside_it_their_rows(reads):
    async def main() -> list[Any]:
        return list(
            await asyncio.gather(
                reads.fetchall("SELECT 1"),
                reads.fetchall("SELECT 1 / 0"),
                reads.fetchall("SELECT 3"),
                return_exceptions=True,
            )
        )

    first, failed, third = _serve(reads, main)
    assert (first, third) == ([(1,)], [(3,)])
    assert isinstance(failed, psycopg.errors.DivisionByZero)


def test_a_pooled_connection_the_server_closed_is_replaced_and_the_read_answers(reads, database):
    async def main() -> tuple[int, int]:
        first = await _pid(reads)
        with database.engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({first}, 5000)")
        return first, await _pid(reads)

    first, second = _serve(reads, main)
    assert second != first


def test_a_failing_new_connection_raises_instead_of_retrying():
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    reads = AsyncReads(Database(engine, sessionmaker(engine)))
    with pytest.raises(psycopg.OperationalError):
        _serve(reads, lambda: _pid(reads))


def test_a_read_whose_caller_gave_up_still_finishes_and_its_connection_serves_on(database):
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite is read in process, not over a connection")
    reads = AsyncReads(database, size=1)

    async def main() -> tuple[int, int, int]:
        slow = reads.fetchall("SELECT pg_backend_pid() FROM pg_sleep(0.3)")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow, 0.05)
        queued = await _pid(reads)  # sent after the slow read, on the same connection
        return queued, await _pid(reads), len(reads._idle)

    queued, after, idle = _serve(reads, main)
    assert queued == after
    assert idle == 1


def test_close_cancels_the_reads_still_waiting(reads):
    async def main() -> None:
        waiting = asyncio.ensure_future(reads.fetchall("SELECT pg_sleep(5)"))
        await asyncio.sleep(0.1)
        await reads.close()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    _serve(reads, main)


def test_connections_of_a_finished_loop_are_not_lent_on_a_new_one(reads):
    first = asyncio.run(_pid(reads))
    second = _serve(reads, lambda: _pid(reads))  # a second loop, as a test client's next call
    assert second != first
