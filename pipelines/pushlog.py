"""The push log: records pushed to ``POST /v1/events``, on disk before they are acknowledged.

A push used to build a lake, read every id of the day and write a Parquet file of its own:
150 single-record pushes went from 14.5 to 103 ms each, and nothing made the API the lake's
only writer (review finding M2). Now a push only appends its normalized records to this log
and waits for the fsync; the data folder's one writer (``pipelines.writer``) moves what
gathered to the lake in batches, and lets go of it here only once it is stored.

Layout: ``<home>/pushlog/seg-<ns>-<pid>-<n>.log``, one segment at a time per writing process
(every API worker has its own: no interleaving), each a run of frames::

    b"FTPL" | payload length (u32 LE) | CRC-32 of the payload (u32 LE) | appended at (ns, u64)
    | payload

where the payload is one Arrow IPC record batch message of the event schema (no schema message:
every frame has the one schema, and writing it per push cost more than the records). An
appending process holds an ``flock`` on its open segment, so the reader tells a segment still
being written (stop at its last whole frame, come back later) from one that is closed or whose
process died (whatever follows its last whole frame was never acknowledged: the segment ends
there). A segment is
created under a dot-name, locked, then renamed, so the reader never meets one unlocked.

Durability: a frame is acknowledged after ``write`` and ``fsync`` of its segment (and of the
folder for a new segment). Concurrent pushes share one fsync (group commit, one thread per
process). The reader's progress (``drained.json``: the offset reached in each segment) is
written atomically after the records are stored; a crash in between makes the writer store
some records twice, which the lake drops as repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import json
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pyarrow as pa

from pipelines.events import EVENT_COLUMNS, EVENT_SCHEMA
from pipelines.private import private_dir

MAGIC: Final = b"FTPL"
_HEADER: Final = struct.Struct("<4sIIQ")
SEGMENT_BYTES: Final = 16 * 1024 * 1024
"""A segment is closed and a new one begun past this size; drained closed ones are deleted."""
STATE_FILE: Final = "drained.json"
_EMPTY: Final = pa.RecordBatch.from_pylist([], schema=EVENT_SCHEMA).serialize().to_pybytes()
_serial = itertools.count()


class PushLogError(RuntimeError):
    """A push could not be made durable (disk full, I/O error): it must not be acknowledged."""


@dataclass
class Pending:
    """Records the log holds that the writer has not stored yet, and where they end."""

    events: pa.Table
    reached: dict[str, int] = field(default_factory=dict)
    """segment name -> offset after the last frame read"""
    finished: list[str] = field(default_factory=list)
    """segments closed (or left by a dead process) and read to their end"""
    oldest: float | None = None
    """when the oldest record read was appended (seconds since the epoch): the lag's start"""

    @property
    def rows(self) -> int:
        return int(self.events.num_rows)


class PushLog:
    """Append (API processes) and drain (the data folder's one writer) pushed records."""

    def __init__(self, folder: Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.folder = folder
        self.segment_bytes = segment_bytes
        self._queue: list[tuple[bytes, Future[None]]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._fd: int | None = None
        self._size = 0
        self.appended = 0
        """frames made durable by this process"""

    # -- appending -----------------------------------------------------------------------------

    def append(self, events: pa.Table, timeout: float = 30.0) -> None:
        """Write ``events`` to the log; returns once they are on disk (PushLogError if not)."""
        self.submit(events).result(timeout)

    async def append_async(self, events: pa.Table) -> None:
        """``append`` for the event loop: awaits the shared fsync without holding a thread."""
        await asyncio.wrap_future(self.submit(events))

    def submit(self, events: pa.Table) -> Future[None]:
        """Queue ``events``; the future completes when they are durable."""
        frame = encode_frame(events)
        done: Future[None] = Future()
        with self._cond:
            if self._closing:
                raise PushLogError("the push log is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._commit_loop, name="functrail-pushlog", daemon=True
                )
                self._thread.start()
            self._queue.append((frame, done))
            self._cond.notify()
        return done

    def close(self) -> None:
        """Write what is queued, then close the open segment (the reader may then finish it)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(30)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _commit_loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                batch, self._queue = self._queue, []
                if not batch and self._closing:
                    return
            try:
                self._write([frame for frame, _ in batch])
            except Exception as exc:  # nothing of the batch is acknowledged
                self._abandon()
                error = PushLogError(f"push log write failed: {getattr(exc, 'strerror', exc)}")
                for _, done in batch:
                    done.set_exception(error)
                continue
            self.appended += len(batch)
            for _, done in batch:
                done.set_result(None)

    def _write(self, frames: list[bytes]) -> None:
        """One write and one fsync for every frame that gathered: the group commit."""
        fd = self._segment()
        data = b"".join(frames)
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
        self._size += len(data)
        if self._size >= self.segment_bytes:
            os.close(fd)  # closing releases the flock: the reader may finish and delete it
            self._fd = None

    def _abandon(self) -> None:
        """Close a segment a write failed in: it may end in a torn frame, after which nothing
        may follow (the reader stops there); the next write begins a new segment."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _segment(self) -> int:
        """The open segment, begun when there is none: created under a dot-name, locked, then
        renamed, so the reader never finds a segment of a live process unlocked."""
        if self._fd is not None:
            return self._fd
        private_dir(self.folder)
        name = f"seg-{time.time_ns():020d}-{os.getpid()}-{next(_serial)}.log"
        temp = self.folder / f".{name}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(temp, self.folder / name)
        _fsync_dir(self.folder)
        self._fd, self._size = fd, 0
        return fd

    # -- draining (the one writer) -------------------------------------------------------------

    def pending(self, max_rows: int = 50_000) -> Pending | None:
        """The records not drained yet, up to about ``max_rows`` (None: nothing waits)."""
        state = self._state()
        tables: list[pa.Table] = []
        found = Pending(EVENT_SCHEMA.empty_table())
        rows = 0
        for path in self._segments():
            start = state.get(path.name, 0)
            live = _held(path)
            reached = start
            for end, appended, table in _frames(path, start):
                tables.append(table)
                reached = end
                rows += table.num_rows
                if found.oldest is None or appended < found.oldest:
                    found.oldest = appended
                if rows >= max_rows:
                    break
            if reached != start:
                found.reached[path.name] = reached
            if rows >= max_rows:
                break
            if not live:
                found.finished.append(path.name)
        if not tables and not found.finished:
            return None
        found.events = pa.concat_tables(tables) if tables else EVENT_SCHEMA.empty_table()
        return found

    def commit(self, pending: Pending) -> None:
        """Record that ``pending`` is stored: its offsets saved, finished segments deleted."""
        state = self._state()
        state.update(pending.reached)
        for name in pending.finished:
            state.pop(name, None)
        _write_state(self.folder / STATE_FILE, state)
        for name in pending.finished:
            with contextlib.suppress(FileNotFoundError):
                (self.folder / name).unlink()

    def _segments(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("seg-*.log"))

    def _state(self) -> dict[str, int]:
        path = self.folder / STATE_FILE
        if not path.exists():
            return {}
        return {str(k): int(v) for k, v in json.loads(path.read_text()).items()}


def encode_frame(events: pa.Table) -> bytes:
    """One frame of the log: header, then ``events`` as an Arrow IPC record batch message."""
    table = events if events.schema == EVENT_SCHEMA else events.select(list(EVENT_COLUMNS))
    table = table.cast(EVENT_SCHEMA) if table.schema != EVENT_SCHEMA else table
    batches = table.to_batches()
    if len(batches) > 1:
        batches = table.combine_chunks().to_batches()  # one batch: one message
    payload = batches[0].serialize().to_pybytes() if batches else _EMPTY
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload), time.time_ns()) + payload


def _frames(path: Path, start: int) -> Iterator[tuple[int, float, pa.Table]]:
    """(offset after, appended at (s), records) of each whole frame from ``start``; stops at
    the first frame
    that is short or does not check (the tail a writer has not finished, or never will)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        handle.seek(start)
        offset = start
        while True:
            header = handle.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return
            magic, length, crc, appended = _HEADER.unpack(header)
            if magic != MAGIC:
                return
            payload = handle.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return
            offset += _HEADER.size + length
            batch = pa.ipc.read_record_batch(pa.py_buffer(payload), EVENT_SCHEMA)
            yield offset, appended / 1e9, pa.Table.from_batches([batch])


def _held(path: Path) -> bool:
    """Whether a live process still appends to the segment (it holds its flock)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _write_state(path: Path, state: dict[str, int]) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(state, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
