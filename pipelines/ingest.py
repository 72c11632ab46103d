"""Fill the lake from sources: what ``functrail ingest`` and the daily job's first step share.

Normalize each blob to Arrow, append every ~50k events, then move checkpoints. Appending per
blob would write one small Parquet file per blob and partition; batching keeps files few and
the checkpoint never runs ahead of the lake. The lake drops ids it already holds, so a rerun or
a run killed mid-way and restarted stores every event once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lake import EventLake
from pipelines.normalize import normalize_table
from pipelines.rejects import Reject
from pipelines.settings import Settings
from pipelines.sources import Blob, Source, mark_done, open_source

FLUSH_EVENTS = 50_000
FLUSH_BLOBS = 500


@dataclass
class IngestTally:
    """What ingestion did: blobs read, events new to the lake, duplicates, rejects, failures."""

    blobs: int = 0
    new: int = 0
    duplicates: int = 0
    rejects: list[Reject] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.new} events new, {self.duplicates} duplicates, {len(self.rejects)} rejected"


def ingest_range(
    uris: Sequence[str],
    lake: EventLake,
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    on_progress: Callable[[IngestTally], None] | None = None,
) -> IngestTally:
    """Ingest ``[start, end)`` of every source into ``lake``; a failing source is noted, not raised.

    Sources are opened with ``full=True``: the job names its day explicitly, so it re-reads the
    whole day (the lake deduplicates) and a rerun sees the same input and counts the same rejects.
    ``UnknownSource`` from a malformed URI is raised before anything is read.
    """
    opened = [open_source(uri, settings, full=True) for uri in uris]
    return ingest_sources(opened, lake, settings, start, end, on_progress=on_progress)


def ingest_sources(
    sources: Sequence[Source],
    lake: EventLake,
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    clip: Callable[[Source], bool] = lambda _source: True,
    on_progress: Callable[[IngestTally], None] | None = None,
) -> IngestTally:
    """Ingest opened sources; ``clip(source)`` says whether to drop events outside the range.

    Local files are not laid out by time, so a named range must be cut from them; a failing
    source is noted in the tally and the others still land.
    """
    tally = IngestTally()
    for source in sources:
        try:
            _ingest_source(source, lake, settings, start, end, tally, clip(source), on_progress)
        except Exception as exc:  # one failing source must not stop the others
            tally.failed.append(f"{source.uri}: {type(exc).__name__}: {exc}")
    return tally


def _ingest_source(
    source: Source,
    lake: EventLake,
    settings: Settings,
    start: datetime,
    end: datetime,
    tally: IngestTally,
    clip: bool,
    on_progress: Callable[[IngestTally], None] | None,
) -> None:
    blobs: list[Blob] = []
    tables: list[pa.Table] = []
    pending = 0

    def flush() -> None:
        nonlocal blobs, tables, pending
        if tables:
            new = lake.append_table(pa.concat_tables(tables))
            tally.new += new
            tally.duplicates += pending - new
        for blob in blobs:
            mark_done(source, blob)  # only after its events are durably in the lake
        tally.blobs += len(blobs)
        blobs, tables, pending = [], [], 0

    for blob in source.blobs(start, end):
        events, rejects = normalize_table(blob.data, blob.name, settings=settings)
        if clip:
            events = within(events, start, end)
        tally.rejects.extend(rejects)
        blobs.append(blob)
        if events.num_rows:
            tables.append(events)
            pending += events.num_rows
        if pending >= FLUSH_EVENTS or len(blobs) >= FLUSH_BLOBS:
            flush()
        if on_progress is not None:
            on_progress(tally)
    flush()
    tally.rejects.extend(getattr(source, "rejects", ()))


def within(events: pa.Table, start: datetime, end: datetime) -> pa.Table:
    """Events with ``start <= time < end``: local files hold any days, the job scores one."""
    kind = events.schema.field("time").type
    times = events["time"]
    keep = pc.and_(
        pc.greater_equal(times, pa.scalar(start, kind)), pc.less(times, pa.scalar(end, kind))
    )
    return events.filter(pc.fill_null(keep, False))
