"""Files normalized on every core: ``functrail detect``'s read, split over forked processes.

Reading and normalizing is about 60% of a large ``functrail detect`` run, and files are
independent, so a run that waits on one core leaves the others idle. With two or more
processes the files are cut into contiguous blocks of about equal size on disk, several per
process, and every process takes the next block not yet taken until none is left. Size on
disk is a poor measure of work (a Cloud Logging export holds ~15x fewer records per compressed
byte than a trail file), and a shared machine slows one process more than another; taking
blocks as they come evens both out. Forked children start reading at once
(``start_reading``) while this process goes on with its own start-up (the rule engine's
imports, the rules) and then takes blocks too (``Reading.finish``). Each child writes a
block's table into a memory file (an Arrow IPC stream, mapped here without a copy) and sends
its index, rejects and dropped-field counts (pickled) over a pipe.

The blocks are put back in order, so the result is exactly what one process reading the files
in order makes: the rows, the rejects (reported once all blocks are in) and the rows
deduplication keeps (first occurrence).

Fork, not spawn: a child starts with everything already imported (half a second of CPU or
more that a spawned child would repeat) and with the arguments in its memory. Fork is used on
Linux only; macOS's system libraries are not fork-safe. Elsewhere, with one process, or for a
small input, the files are read here.

A child that fails (killed, out of memory) is not fatal: this process reads the blocks it did
not hand back and says so on the log.
"""

from __future__ import annotations

import contextlib
import io
import logging
import mmap
import multiprocessing
import os
import pickle
import struct
import sys
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Final, NamedTuple

import pyarrow as pa

from pipelines.dropped import DroppedFields, total_of
from pipelines.normalize import (
    DECODE_RECORDS,
    TableBatch,
    concat_tables,
    empty_table,
    normalize_table_chunks,
)
from pipelines.rejects import Reject
from pipelines.settings import Settings
from pipelines.sources.base import fetch_blobs
from pipelines.sources.local import LocalFile, file_refs

log = logging.getLogger(__name__)

MIN_BLOCK_BYTES: Final = 4 * 1024 * 1024
"""Bytes on disk (gzip-compressed, as trail files are) of the smallest block: 0.1-0.6 s of
reading in one process, of which handing its table back costs a child ~15%, and its last
chunk is decoded part-full."""
_LENGTH: Final = struct.Struct("<Q")
BLOCKS_PER_PROCESS: Final = 8
"""Blocks per process, at most: finer blocks even out uneven files and processes better."""


class _Block(NamedTuple):
    """One block's tables in order, its rejects in order, and its dropped fields."""

    tables: list[pa.Table]
    rejects: list[Reject]
    dropped: DroppedFields


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def start_reading(
    files: Sequence[Path],
    *,
    settings: Settings,
    carry: bool = False,
    processes: int = 1,
    min_block_bytes: int = MIN_BLOCK_BYTES,
) -> Reading:
    """Every file being read: forked children start now, ``Reading.finish`` gives the result.

    ``processes``: at most this many processes read (this one included); ``carry``: the table
    holds the ``carried`` columns too (see ``normalize_table_chunks``)."""
    refs = list(file_refs(files, settings))
    share = processes if _can_fork() else 1
    blocks = _blocks(refs, share * BLOCKS_PER_PROCESS, min_block_bytes)
    # Two blocks or more a process, so that taking them as they come can even things out; on
    # a simulated day (7 MB, seven 1 MiB blocks) forking cost more than it gave (2.0 vs 1.8 s).
    processes = max(1, min(share, len(blocks) // 2))
    return Reading(blocks if processes > 1 else [refs], settings, carry, processes)


class Reading:
    """Blocks of files being read by this process and ``processes - 1`` forked children."""

    def __init__(
        self, blocks: list[list[LocalFile]], settings: Settings, carry: bool, processes: int
    ) -> None:
        self.blocks = blocks
        self.settings = settings
        self.carry = carry
        self.children: list[_Child] = []
        if processes > 1:
            context = multiprocessing.get_context("fork")
            self._next = context.Value("q", 0)
            self.children = [_start(context, self) for _ in range(processes - 1)]

    def take(self) -> int | None:
        """The index of the next block no process has taken, or None when all are taken."""
        with self._next.get_lock():
            index = int(self._next.value)
            self._next.value = index + 1
        return index if index < len(self.blocks) else None

    def read(self, index: int, on_reject: Callable[[Reject], None] | None = None) -> _Block:
        return _read(self.blocks[index], self.settings, self.carry, on_reject)

    def finish(self, on_reject: Callable[[Reject], None]) -> tuple[pa.Table, DroppedFields]:
        """Every file normalized into one table (deduplicated by id, first occurrence kept) and
        the fields dropped from kept records; each reject goes to ``on_reject``, in input
        order."""
        if not self.children:  # one process: rejects said as they come
            return _merged([self.read(0, on_reject)], self.carry)
        done: list[_Block | None] = [None] * len(self.blocks)
        while (index := self.take()) is not None:
            done[index] = self.read(index)
        for child in self.children:
            for index, block in _receive(child):
                done[index] = block
        # Blocks a failed child took and never handed back.
        read = [self.read(i) if block is None else block for i, block in enumerate(done)]
        for block in read:
            for reject in block.rejects:
                on_reject(reject)
        return _merged(read, self.carry)


def _can_fork() -> bool:
    """Linux with memory files, and ``/proc`` mounted: a reader appends to its memory file by
    its ``/proc/self/fd`` path (without it every reader would fail and say so on each run)."""
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "memfd_create")
        and os.path.isdir("/proc/self/fd")
    )


def _blocks(refs: list[LocalFile], most: int, min_bytes: int) -> list[list[LocalFile]]:
    """``refs`` cut into at most ``most`` contiguous blocks of about equal size on disk, each
    at least ``min_bytes`` (one block when the input is small)."""
    total = sum(ref.size for ref in refs)
    count = max(1, min(most, len(refs), total // max(1, min_bytes)))
    if count == 1:
        return [refs]
    blocks: list[list[LocalFile]] = [[] for _ in range(count)]
    done = 0
    for ref in refs:
        # The block whose share of the total the middle of this file falls in.
        blocks[min(count - 1, (2 * done + ref.size) * count // (2 * total))].append(ref)
        done += ref.size
    return [block for block in blocks if block]


def _read(
    refs: list[LocalFile],
    settings: Settings,
    carry: bool,
    on_reject: Callable[[Reject], None] | None = None,
) -> _Block:
    """One block read here; its rejects also go to ``on_reject`` as they come, if given."""
    rejects: list[Reject] = []

    def note(reject: Reject) -> None:
        rejects.append(reject)
        if on_reject is not None:
            on_reject(reject)

    tables: list[pa.Table] = []
    drops: list[DroppedFields] = []
    # Chunks of about one decode slice, merged once at the end; concat_tables deduplicates the
    # merged batch, so the chunks need not each be.
    chunks = normalize_table_chunks(
        fetch_blobs(refs, note), settings=settings, min_rows=DECODE_RECORDS, carry=carry,
        dedup=False,
    )  # fmt: skip
    for chunk in chunks:
        for reject in chunk.rejects:
            note(reject)
        if chunk.table.num_rows:
            tables.append(chunk.table)
        drops.append(chunk.dropped)
    return _Block(tables, rejects, total_of(drops))


class _Child(NamedTuple):
    """A forked reader: its process, the pipe its messages come on, and the memory file its
    tables are written to."""

    process: BaseProcess
    messages: io.FileIO
    shared: int


def _start(context: multiprocessing.context.ForkContext, reading: Reading) -> _Child:
    receiving, sending = os.pipe()
    shared = os.memfd_create("functrail-read", os.MFD_CLOEXEC)
    process = context.Process(
        target=_child, args=(reading, sending, shared), name="functrail-read", daemon=True
    )
    process.start()
    os.close(sending)  # the child's end: EOF here once the child is gone
    return _Child(process, io.FileIO(receiving, "rb"), shared)


def _child(reading: Reading, sending: int, shared: int) -> None:
    """A forked reader: takes blocks until none is left, writes each block's table to
    ``shared`` as an Arrow IPC stream and announces it on the pipe (index, rejects, drops,
    where the table is; pickled). On failure it sends why and exits quietly (no traceback on
    stderr)."""
    with io.FileIO(sending, "wb") as out:
        try:
            end = 0
            while (index := reading.take()) is not None:
                block = reading.read(index)
                at, size = _write_ipc(shared, end, block.tables, reading.carry)
                _send(out, pickle.dumps((index, block.rejects, block.dropped, at, size)))
                end = at + size
        except BaseException as exc:  # also ^C: the parent reads what is missing
            with contextlib.suppress(OSError):
                _send(out, pickle.dumps(f"{type(exc).__name__}: {exc}"))


def _write_ipc(shared: int, end: int, tables: list[pa.Table], carry: bool) -> tuple[int, int]:
    """The tables as one Arrow IPC stream in ``shared`` from the first page boundary at or
    after ``end``: (offset, size). A pipe cost ~0.3 s of CPU per 180 MB (its 64 KiB reads and
    the receiving buffer's page faults). Appended with ``write`` calls, the kernel fills the
    file's pages itself: writing through a mapping faulted each fresh page in (a reader at
    288k events: 130k -> 73k page faults; ``detect`` 3.48 -> 3.36 s CPU, medians of 7)."""
    schema = tables[0].schema if tables else empty_table(carry=carry).schema
    at = -(-end // mmap.ALLOCATIONGRANULARITY) * mmap.ALLOCATIONGRANULARITY
    os.ftruncate(shared, at)
    with (
        pa.OSFile(f"/proc/self/fd/{shared}", "ab") as sink,
        pa.ipc.new_stream(sink, schema) as writer,
    ):
        for table in tables:
            writer.write_table(table)
    return at, os.fstat(shared).st_size - at


def _send(out: io.FileIO, data: bytes) -> None:
    """``data`` framed by its length (the pipe is a byte stream)."""
    view = memoryview(data)
    out.write(_LENGTH.pack(len(view)))
    while view:
        view = view[out.write(view) or 0 :]


def _take(messages: io.FileIO) -> bytearray | None:
    """The next frame ``_send`` wrote, or None at the end of the stream."""
    length = _exactly(messages, _LENGTH.size)
    if length is None:
        return None
    (size,) = _LENGTH.unpack(length)
    data = _exactly(messages, size)
    if data is None:
        raise EOFError("the reading process ended mid-message")
    return data


def _exactly(messages: io.FileIO, size: int) -> bytearray | None:
    """``size`` bytes, or None when the stream ends before the first."""
    data = bytearray(size)
    view = memoryview(data)
    while view:
        got = messages.readinto(view)
        if not got:
            if len(view) == size:
                return None
            raise EOFError("the reading process ended mid-message")
        view = view[got:]
    return data


def _receive(child: _Child) -> Iterator[tuple[int, _Block]]:
    """The blocks a child read, by index, until it is done. Tables are mapped from its memory
    file, not copied. A child that failed is said on the log; what it did not hand back the
    caller reads itself."""
    try:
        while (message := _take(child.messages)) is not None:
            head = pickle.loads(message)  # noqa: S301 - our own fork, not input
            if isinstance(head, str):
                raise RuntimeError(head)
            index, rejects, dropped, at, size = head
            memory = mmap.mmap(child.shared, size, prot=mmap.PROT_READ, offset=at)
            table = pa.ipc.open_stream(pa.py_buffer(memory)).read_all()
            yield index, _Block([table] if table.num_rows else [], rejects, dropped)
    except (EOFError, OSError, RuntimeError, pa.ArrowInvalid) as exc:
        log.warning("a reading process failed (%s); reading its files here", exc)
    finally:
        child.messages.close()
        os.close(child.shared)  # the mappings stay valid
        child.process.join()
    if child.process.exitcode:
        log.warning("a reading process exited with %s", child.process.exitcode)


def _merged(blocks: list[_Block], carry: bool) -> tuple[pa.Table, DroppedFields]:
    batches = [TableBatch(table, []) for block in blocks for table in block.tables]
    table, _, _ = concat_tables(batches)
    if not table.num_rows:
        table = empty_table(carry=carry)
    return table, total_of([block.dropped for block in blocks])
