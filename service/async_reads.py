"""PostgreSQL reads on the API's event loop: a few autocommit psycopg async connections.

The alert list on PostgreSQL used to run in a worker thread (a blocking driver call must not
stall the loop). Served with 50 busy clients, those threads and the loop fought over the GIL:
each thread back from its round trip waited for the loop to let go, and a worker used only
~0.6 of a core (890 req/s, p99 129 ms on 2 cores, 1M alerts). psycopg's own async connection
waits on the loop instead, so the round trip costs no thread and no GIL hand-over.

One instance per app; it is bound to the loop that first uses it (an app serves on one loop).
A connection that fails is closed, not reused; a read that failed on a connection that had
sat in the pool is tried once more on a new one (a server restart closes idle connections).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg

from service.db import Database, postgres_options

T = TypeVar("T")

DEFAULT_CONNECTIONS = 2
"""per API process: a page holds one only for its round trip. Served, 1M alerts, 50 clients:
p99 52-57 ms with 2, 69-73 ms with 4 (more postgres processes contending for 2 cores), 55-62
ms with 1 (reads queued behind each other)"""


class AsyncReads:
    """Up to ``size`` open connections, lent one read at a time."""

    def __init__(self, db: Database, size: int = DEFAULT_CONNECTIONS) -> None:
        url = db.engine.url.set(drivername="postgresql")
        self.dialect = db.engine.dialect
        self._conninfo = url.render_as_string(hide_password=False)
        # Generic plans: the list's statements are prepared (psycopg, after 5 runs) but
        # PostgreSQL kept planning each run anew, because a generic plan's cost with an
        # unknown LIMIT looked worse than the custom plans; every shape walks an index either
        # way. Planning was most of the server's 0.27 ms per key read (0.12 ms without).
        self._options = postgres_options(db.schema) + " -c plan_cache_mode=force_generic_plan"
        self._size = size
        self._idle: list[psycopg.AsyncConnection] = []
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, read: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
        """``read`` on a lent connection, once more on a new one if a pooled one had died."""
        async with self._bind_to_running_loop():
            reused = bool(self._idle)
            try:
                return await self._read_on(
                    self._idle.pop() if reused else await self._connect(), read
                )
            except psycopg.OperationalError:
                if not reused:
                    raise
            return await self._read_on(await self._connect(), read)

    async def _read_on(
        self,
        connection: psycopg.AsyncConnection,
        read: Callable[[psycopg.AsyncConnection], Awaitable[T]],
    ) -> T:
        try:
            result = await read(connection)
        except BaseException:
            await connection.close()  # a failed or cancelled read may leave it mid-query
            raise
        self._idle.append(connection)
        return result

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()

    async def _connect(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, options=self._options
        )

    def _bind_to_running_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            # First use, or a new loop (a test client runs each call on its own): connections
            # of a finished loop cannot wait on this one, so they are let go.
            self._idle, self._slots, self._loop = [], asyncio.Semaphore(self._size), loop
        return self._slots
