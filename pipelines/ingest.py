"""Fill the lake from sources: what ``functrail ingest`` and the daily job's first step share.

Normalize each blob to Arrow (here, or on Dask workers through a ``Runner``), append every
~50k events, then move checkpoints. Appending per blob would write one small Parquet file per
blob and partition; batching keeps files few and the checkpoint never runs ahead of the lake.
The lake drops ids it already holds, so a rerun or a run killed mid-way and restarted stores
every event once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from pipelines.dropped import NO_DROPS, DroppedFields
from pipelines.events import EVENT_SCHEMA
from pipelines.lake import EventLake
from pipelines.memory import release_freed
from pipelines.normalize import normalize_table
from pipelines.provenance import Conflict
from pipelines.rejects import Reject
from pipelines.runner import LocalRunner, Runner
from pipelines.settings import Settings
from pipelines.source_health import record_attempt
from pipelines.sources import BlobRef, BlobRejected, Source, blob_refs, mark_done, open_source

FLUSH_EVENTS = 50_000
FLUSH_BLOBS = 500
TASK_BLOBS = 32
TASK_BYTES = 2 * 1024 * 1024
"""One runner task normalizes up to this many blobs / stored (often gzip) bytes: a day is
thousands of small files, and a Dask round trip per file costs more than parsing it. The
driver holds one task's events at a time: 2 MiB of CloudTrail gzip is ~30k events (~40 MB
of Arrow); at 8 MiB a task was up to ~150k events held while it was appended."""


@dataclass
class IngestTally:
    """What ingestion did: blobs read, events new to the lake, duplicates, rejects, optional
    fields dropped from kept records, failures, and conflicts (one id, two contents: the
    caller raises their alerts)."""

    blobs: int = 0
    new: int = 0
    duplicates: int = 0
    rejects: list[Reject] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dropped: DroppedFields = NO_DROPS
    conflicts: list[Conflict] = field(default_factory=list)

    def line(self) -> str:
        line = f"{self.new} events new, {self.duplicates} duplicates, {len(self.rejects)} rejected"
        if self.dropped:
            line += f", {self.dropped.total} optional fields dropped"
        return line


@dataclass
class Normalized:
    """One blob's outcome: events in the range, rejects, and whether the blob was read at all
    (a blob refused at fetch is not checkpointed, so a later run tries it again).
    """

    events: pa.Table
    rejects: list[Reject]
    fetched: bool = True
    dropped: DroppedFields = NO_DROPS


def normalize_ref(
    ref: BlobRef, *, settings: Settings, start: datetime, end: datetime, clip: bool
) -> Normalized:
    """Fetch and normalize one blob: the unit of ingestion, run here or on a Dask worker.

    The CPU-heavy part of a day (decompress, parse, normalize) happens here, next to the
    fetch, so neither the bytes nor the parsing pass through the driver.
    """
    try:
        data = ref.fetch()
    except BlobRejected as exc:
        return Normalized(EVENT_SCHEMA.empty_table(), [Reject(ref.name, None, str(exc))], False)
    events, rejects, dropped = normalize_table(data, ref.name, settings=settings)
    del data
    if clip:
        events = within(events, start, end)
    return Normalized(events, rejects, dropped=dropped)


@dataclass
class BlobOutcome:
    """What became of one blob of a task: rows kept, rejects, and whether it was read."""

    rows: int
    rejects: list[Reject]
    fetched: bool
    dropped: DroppedFields = NO_DROPS


@dataclass
class NormalizedChunk:
    """One task's answer: each blob's outcome, and all their events in order, either inline
    (same process) or in a staging file (from a worker: the lake's filesystem carries hundreds
    of MB in a fraction of a second, a Dask result of the same size takes seconds).
    """

    outcomes: list[BlobOutcome]
    events: pa.Table | None = None
    staged: str | None = None


class Staging:
    """A folder of one run under the lake (``_staging/<run>/``), where workers leave their
    normalized chunks as Arrow IPC files for the driver. The lake's readers skip ``_`` names.

    It pickles as the lake's filesystem and a path, so it points every worker at the same
    place; the lake must be shared anyway (detection reads it on the workers).
    """

    def __init__(self, fs: pafs.FileSystem, folder: str) -> None:
        self.fs = fs
        self.folder = folder

    @classmethod
    def beside(cls, lake: EventLake) -> Staging:
        return cls(lake.fs, f"{lake.root}/_staging/{uuid.uuid4().hex}")

    def put(self, events: pa.Table) -> str:
        """Write ``events`` uncompressed (it is read once, at once) and return its path."""
        self.fs.create_dir(self.folder, recursive=True)
        path = f"{self.folder}/_chunk-{uuid.uuid4().hex}.arrow"
        with self.fs.open_output_stream(path) as out, pa.ipc.new_file(out, events.schema) as w:
            w.write_table(events)
        return path

    def take(self, path: str) -> pa.Table:
        """Read a chunk whole and delete its file."""
        with self.fs.open_input_file(path) as source:
            events = pa.ipc.open_file(source).read_all()
        self.fs.delete_file(path)
        return events

    def clear(self) -> None:
        """Remove the run's folder (and any chunk a cancelled task left)."""
        if self.fs.get_file_info(self.folder).type == pafs.FileType.Directory:
            self.fs.delete_dir(self.folder)


def normalize_refs(
    refs: Sequence[BlobRef],
    *,
    settings: Settings,
    start: datetime,
    end: datetime,
    clip: bool,
    staging: Staging | None = None,
) -> NormalizedChunk:
    """``normalize_ref`` over a few blobs: the task a runner maps; ``staging`` when remote."""
    done = [normalize_ref(ref, settings=settings, start=start, end=end, clip=clip) for ref in refs]
    outcomes = [BlobOutcome(d.events.num_rows, d.rejects, d.fetched, d.dropped) for d in done]
    events = pa.concat_tables([d.events for d in done])
    if staging is None:
        return NormalizedChunk(outcomes, events=events)
    return NormalizedChunk(outcomes, staged=staging.put(events))


def task_chunks(
    refs: Iterable[BlobRef], *, blobs: int = TASK_BLOBS, size: int = TASK_BYTES
) -> Iterator[list[BlobRef]]:
    """Consecutive refs grouped up to ``blobs`` of them or ``size`` stored bytes, order kept."""
    chunk: list[BlobRef] = []
    held = 0
    for ref in refs:
        if chunk and (len(chunk) >= blobs or held + ref.size > size):
            yield chunk
            chunk, held = [], 0
        chunk.append(ref)
        held += ref.size
    if chunk:
        yield chunk


def ingest_range(
    uris: Sequence[str],
    lake: EventLake,
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    runner: Runner | None = None,
    on_progress: Callable[[IngestTally], None] | None = None,
) -> IngestTally:
    """Ingest ``[start, end)`` of every source into ``lake``; a failing source is noted, not raised.

    Sources are opened with ``full=True``: the job names its day explicitly, so it re-reads the
    whole day (the lake deduplicates) and a rerun sees the same input and counts the same rejects.
    ``UnknownSource`` from a malformed URI is raised before anything is read.
    """
    opened = [open_source(uri, settings, full=True) for uri in uris]
    return ingest_sources(
        opened, lake, settings, start, end, runner=runner, on_progress=on_progress
    )


def ingest_sources(
    sources: Sequence[Source],
    lake: EventLake,
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    clip: Callable[[Source], bool] = lambda _source: True,
    runner: Runner | None = None,
    on_progress: Callable[[IngestTally], None] | None = None,
) -> IngestTally:
    """Ingest opened sources; ``clip(source)`` says whether to drop events outside the range.

    Blobs are normalized through ``runner`` (here by default; a ``DaskRunner`` spreads them over
    a cluster) and come back in order; only this process appends to the lake and moves
    checkpoints, so both runners store the same files and a checkpoint never runs ahead of the
    lake. A failing source is noted in the tally and the others still land.
    """
    tally = IngestTally()
    runner = runner or LocalRunner()
    for source in sources:
        try:
            _ingest_source(
                source, lake, settings, start, end, tally, clip(source), runner, on_progress
            )
        except Exception as exc:  # one failing source must not stop the others
            tally.failed.append(f"{source.uri}: {type(exc).__name__}: {exc}")
            record_attempt(settings, source.uri, f"{type(exc).__name__}: {exc}")
        else:
            record_attempt(settings, source.uri, None)
    return tally


def _ingest_source(
    source: Source,
    lake: EventLake,
    settings: Settings,
    start: datetime,
    end: datetime,
    tally: IngestTally,
    clip: bool,
    runner: Runner,
    on_progress: Callable[[IngestTally], None] | None,
) -> None:
    staging = Staging.beside(lake) if runner.remote else None
    try:
        _ingest_chunks(
            source, lake, settings, start, end, tally, clip, runner, staging, on_progress
        )
    finally:
        if staging is not None:
            staging.clear()
    tally.rejects.extend(getattr(source, "rejects", ()))


def _ingest_chunks(
    source: Source,
    lake: EventLake,
    settings: Settings,
    start: datetime,
    end: datetime,
    tally: IngestTally,
    clip: bool,
    runner: Runner,
    staging: Staging | None,
    on_progress: Callable[[IngestTally], None] | None,
) -> None:
    drawn: dict[int, list[BlobRef]] = {}
    blobs: list[BlobRef] = []
    tables: list[pa.Table] = []
    pending = 0

    def draw() -> Iterator[list[BlobRef]]:
        for index, chunk in enumerate(task_chunks(blob_refs(source, start, end))):
            drawn[index] = chunk  # kept for mark_done: the worker's answer does not carry refs
            yield chunk

    def flush() -> None:
        nonlocal blobs, tables, pending
        if tables:
            stored = lake.store(pa.concat_tables(tables))
            tally.new += stored.count
            tally.duplicates += pending - stored.count
            tally.conflicts.extend(stored.conflicts)
        for blob in blobs:
            mark_done(source, blob)  # only after its events are durably in the lake
        tally.blobs += len(blobs)
        blobs, tables, pending = [], [], 0
        release_freed()  # the next batch's peak must not stack on this one's freed pages

    task = partial(
        normalize_refs, settings=settings, start=start, end=end, clip=clip, staging=staging
    )
    for index, chunk in runner.map(task, draw()):
        if chunk.staged is not None and staging is not None:
            events = staging.take(chunk.staged)
        else:
            assert chunk.events is not None
            events = chunk.events
        offset = 0
        for ref, done in zip(drawn.pop(index), chunk.outcomes, strict=True):
            tally.rejects.extend(done.rejects)
            tally.dropped += done.dropped
            if done.fetched:
                blobs.append(ref)
            if done.rows:
                tables.append(events.slice(offset, done.rows))
                pending += done.rows
                offset += done.rows
            if pending >= FLUSH_EVENTS or len(blobs) >= FLUSH_BLOBS:
                flush()
        # Not held while the runner makes the next chunk: what is not flushed yet is in
        # ``tables`` (slices keep their chunk's buffers), the rest can go now.
        del events, chunk
        if on_progress is not None:
            on_progress(tally)
    flush()


def within(events: pa.Table, start: datetime, end: datetime) -> pa.Table:
    """Events with ``start <= time < end``: local files hold any days, the job scores one."""
    kind = events.schema.field("time").type
    times = events["time"]
    keep = pc.and_(
        pc.greater_equal(times, pa.scalar(start, kind)), pc.less(times, pa.scalar(end, kind))
    )
    return events.filter(pc.fill_null(keep, False))
