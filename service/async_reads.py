"""PostgreSQL reads on the API's event loop, sent in pipelines over a few connections.

The alert list on PostgreSQL used to run in a worker thread (a blocking driver call must not
stall the loop). Served with 50 busy clients, those threads and the loop fought over the GIL:
each thread back from its round trip waited for the loop to let go, and a worker used only
~0.6 of a core (890 req/s, p99 129 ms on 2 cores, 1M alerts). psycopg's own async connection
waits on the loop instead, so the round trip costs no thread and no GIL hand-over.

Reads that wait together go together: each connection's sender takes every read queued when
it is free and sends them in one pipeline, back to back, then waits once for all the answers.
With one read per round trip, the two connections of a worker were the bottleneck whenever
PostgreSQL waited for a core, and each read woke a server process that had gone to sleep:
2,184-2,439 req/s, p99 48-67 ms, 0.18 ms of postgres CPU per request; pipelined, 2,870-3,644
req/s, p99 42-51 ms, 0.12 ms (same host, 1M alerts, 50 clients, 2 workers, closed loop).

One instance per app; it is bound to the loop that first uses it (an app serves on one loop).
A read whose query fails gets its own error; the reads beside it in the pipeline (which the
server then skips) are sent again one by one. A connection that breaks is closed, not reused;
a batch that broke on a connection that had sat in the pool is sent once more on a new one (a
server restart closes idle connections). A read whose caller gave up (a timeout, a client
gone) is still answered in the pipeline, so its connection is never left mid-query.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import psycopg

from service.db import Database, postgres_options

Rows = list[tuple[Any, ...]]

DEFAULT_CONNECTIONS = 2
"""per API process: each sends what has queued while the other waits for its answers"""
MAX_BATCH = 32
"""reads per pipeline: bounds what one slow answer holds back"""
PIPELINES = psycopg.AsyncPipeline.is_supported()
"""False with a libpq older than 14 (a psycopg built against the system's): reads go one by one"""


@dataclass
class _Read:
    query: str
    params: Any
    answer: asyncio.Future[Rows] = field(repr=False)

    def settle(self, rows: Rows | None = None, error: BaseException | None = None) -> None:
        if self.answer.done():  # its caller gave up
            return
        if isinstance(error, asyncio.CancelledError):
            self.answer.cancel()
        elif error is not None:
            self.answer.set_exception(error)
        else:
            self.answer.set_result(rows or [])


class AsyncReads:
    """Up to ``size`` open connections; each sends the queued reads in one pipeline."""

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
        self._queue: list[_Read] = []
        self._sending = 0
        self._senders: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def fetchall(self, query: str, params: Any = None) -> Rows:
        """The rows of ``query``, sent with the other reads waiting at the same moment."""
        loop = self._bind_to_running_loop()
        read = _Read(query, params, loop.create_future())
        self._queue.append(read)
        if self._sending < self._size:
            self._sending += 1
            sender = loop.create_task(self._send())
            self._senders.add(sender)  # the loop holds tasks weakly
            sender.add_done_callback(self._senders.discard)
        return await read.answer

    async def close(self) -> None:
        for sender in list(self._senders):
            sender.cancel()
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()

    async def _send(self) -> None:
        batch: list[_Read] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._answer(batch)
        except BaseException as error:  # cancelled at shutdown: no read is left waiting
            for read in batch + self._queue:
                read.settle(error=error)
            raise
        finally:
            # No await since the queue was seen empty: a read queued from here on starts a
            # sender of its own.
            self._sending -= 1

    async def _answer(self, batch: list[_Read], *, fresh: bool = False) -> None:
        reused = bool(self._idle) and not fresh
        try:
            connection = self._idle.pop() if reused else await self._connect()
        except psycopg.Error as error:
            for read in batch:
                read.settle(error=error)
            return
        try:
            try:
                if len(batch) == 1 or not PIPELINES:  # alone, a sync costs more than it saves
                    await self._one_by_one(connection, batch)
                else:
                    await self._pipeline(connection, batch)
            except psycopg.Error:
                if connection.broken:
                    raise
                await self._one_by_one(connection, batch)  # a query failed; the rest were skipped
        except psycopg.Error as error:  # the connection broke
            await connection.close()
            waiting = [read for read in batch if not read.answer.done()]
            if reused:
                await self._answer(waiting, fresh=True)
            for read in waiting:
                read.settle(error=error)
            return
        except BaseException:
            await connection.close()  # cancelled mid-pipeline: its state is unknown
            raise
        self._idle.append(connection)

    @staticmethod
    async def _pipeline(connection: psycopg.AsyncConnection, batch: list[_Read]) -> None:
        cursors = []
        async with connection.pipeline():
            for read in batch:
                cursor = connection.cursor()
                await cursor.execute(read.query, read.params)
                cursors.append(cursor)
        for cursor, read in zip(cursors, batch, strict=True):
            read.settle(await cursor.fetchall())
            await cursor.close()

    @staticmethod
    async def _one_by_one(connection: psycopg.AsyncConnection, batch: list[_Read]) -> None:
        for read in batch:
            if read.answer.done():
                continue
            try:
                async with connection.cursor() as cursor:
                    await cursor.execute(read.query, read.params)
                    read.settle(await cursor.fetchall())
            except psycopg.Error as error:
                if connection.broken:
                    raise
                read.settle(error=error)

    async def _connect(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, options=self._options
        )

    def _bind_to_running_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # First use, or a new loop (a test client runs each call on its own): connections
            # of a finished loop cannot wait on this one, so they are let go.
            self._idle, self._queue, self._senders, self._loop = [], [], set(), loop
            self._sending = 0
        return loop
