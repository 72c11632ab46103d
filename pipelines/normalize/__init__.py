"""The normalizer: any supported blob of audit records -> one batch in the event model.

``normalize_blob`` is the function every ingestion path calls (CLI, sources, the HTTP push
endpoint). It never raises for bad input: what cannot be read becomes a Reject naming the
blob, the record index and the reason, and everything else in the blob still comes through.
A record whose optional field is mistyped is kept without that field, counted in
``Batch.dropped`` by field and reason.
"""

from __future__ import annotations

import gc
import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.dropped import NO_DROPS, DroppedFields, total_of
from pipelines.events import EVENT_SCHEMA, empty_events, events_from_arrow
from pipelines.normalize import aws, carried, gcp
from pipelines.normalize.decode import Decoded, Raw, kept_row
from pipelines.parse import Split, classify, split_blob
from pipelines.rejects import Reject, snippet_of, unreadable
from pipelines.settings import Settings
from pipelines.sources.base import Blob

__all__ = [
    "Batch",
    "TableBatch",
    "concat_batches",
    "concat_tables",
    "empty_table",
    "filter_time",
    "normalize_blob",
    "normalize_blobs",
    "normalize_chunks",
    "normalize_table",
    "normalize_table_chunks",
]

_TIME_REASON = "time field (eventTime / timestamp) is not an ISO 8601 time"


class Batch(NamedTuple):
    """Normalized events (exactly EVENT_COLUMNS), the records that were rejected, and the
    optional fields left out of records that were kept."""

    events: pd.DataFrame
    rejects: list[Reject]
    dropped: DroppedFields = NO_DROPS


class TableBatch(NamedTuple):
    """``Batch`` as an Arrow table (EVENT_SCHEMA): what ``normalize_table`` returns."""

    table: pa.Table
    rejects: list[Reject]
    dropped: DroppedFields = NO_DROPS


def normalize_blob(data: bytes, source: str, *, settings: Settings | None = None) -> Batch:
    """Detect format by content (gzip or not), parse, normalize. Never raises for bad input."""
    table, rejects, dropped = normalize_table(data, source, settings=settings)
    return Batch(events_from_arrow(table) if table.num_rows else empty_events(), rejects, dropped)


def normalize_table(data: bytes, source: str, *, settings: Settings | None = None) -> TableBatch:
    """``normalize_blob`` stopping at Arrow (EVENT_SCHEMA): for Parquet writers and merging."""
    settings = settings or Settings()
    collecting = gc.isenabled()
    # Decoding allocates many small objects; GC passes over them cost 2x (PERFORMANCE.md).
    gc.disable()
    try:
        return _normalize(data, source, settings)
    except Exception as exc:
        return TableBatch(EVENT_SCHEMA.empty_table(), [unreadable(source, exc)])
    finally:
        if collecting:
            gc.enable()


def normalize_blobs(blobs: Iterable[Blob], *, settings: Settings | None = None) -> Iterator[Batch]:
    """One batch per blob, in order."""
    settings = settings or Settings()
    for blob in blobs:
        yield normalize_blob(blob.data, blob.name, settings=settings)


def normalize_chunks(
    blobs: Iterable[Blob], *, settings: Settings | None = None, min_rows: int = 100_000
) -> Iterator[Batch]:
    """Batches of at least ``min_rows`` events (the last may be smaller), merging small blobs.

    Many small files (an hour of one account) are dominated by the fixed cost of building a
    DataFrame; merging them at the Arrow level first makes that cost once per chunk. Events are
    deduplicated by id within each chunk.
    """
    for table, rejects, dropped in normalize_table_chunks(
        blobs, settings=settings, min_rows=min_rows
    ):
        events = events_from_arrow(table) if table.num_rows else empty_events()
        yield Batch(events, rejects, dropped)


def normalize_table_chunks(
    blobs: Iterable[Blob],
    *,
    settings: Settings | None = None,
    min_rows: int = 100_000,
    carry: bool = False,
    dedup: bool = True,
) -> Iterator[TableBatch]:
    """``normalize_chunks`` stopping at Arrow, for callers that merge the chunks before building
    one DataFrame (``concat_tables``): no per-chunk DataFrame cost asks them for big chunks, and
    a chunk's inflated blobs are what it holds beyond its table.

    ``carry``: each table also holds the raw fields of ``carried`` after the event columns
    (for a caller that hands them to the rules; nothing else expects them).

    ``dedup=False`` leaves repeated ids in a chunk, for a caller that deduplicates the merged
    chunks anyway (``concat_tables`` keeps the same first occurrences): hashing every id twice
    was ~2% of reading 288k events."""
    settings = settings or Settings()
    pending = _Pending(carry=carry)
    for blob in blobs:
        pending.add(_split(blob.data, blob.name, settings))
        if pending.records >= min_rows:
            yield _finish(pending, dedup)
            pending = _Pending(carry=carry)
    if pending.sources:
        yield _finish(pending, dedup)


def _finish(pending: _Pending, dedup: bool = True) -> TableBatch:
    """One table from the pending blobs; if decoding them together fails, one blob at a time."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _decode(pending, dedup)
    except Exception:
        tables: list[pa.Table] = []
        rejects = []
        drops: list[DroppedFields] = []
        for split in pending.splits:
            single = _Pending(carry=pending.carry)
            single.add(split)
            try:
                done = _decode(single, dedup)
            except Exception as exc:
                done = TableBatch(empty_table(carry=pending.carry), [unreadable(split.source, exc)])
            tables.append(done.table)
            rejects.extend(done.rejects)
            drops.append(done.dropped)
        combined = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        return TableBatch(_dedup_table(combined) if dedup else combined, rejects, total_of(drops))
    finally:
        if collecting:
            gc.enable()


def _dedup_table(table: pa.Table) -> pa.Table:
    """Rows whose id was not seen earlier in the table (first occurrence kept)."""
    ids = table["id"]
    if _unique(ids):
        return table
    return table.filter(pa.array(_first_seen(ids)))


def _unique(ids: pa.ChunkedArray | pa.Array) -> bool:
    """No id repeats (a null repeats a null, as in pandas' ``duplicated``): one hash pass
    (``unique`` measured ~40% cheaper than ``count_distinct`` on 288k ids)."""
    return len(pc.unique(ids)) == len(ids)


def _first_seen(ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """True at the first occurrence of each id: dictionary codes are numbered in order of
    appearance, so a row is first exactly when its code is new."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    codes = pc.dictionary_encode(ids, null_encoding="encode").indices.to_numpy()
    first = np.zeros(len(codes), dtype=bool)
    first[np.unique(codes, return_index=True)[1]] = True
    return first


def concat_tables(batches: Iterable[TableBatch]) -> TableBatch:
    """``concat_batches`` at the Arrow level: one table (no copy unless ids repeat), events
    deduplicated by id (first occurrence kept), rejects joined, dropped fields summed."""
    tables: list[pa.Table] = []
    rejects: list[Reject] = []
    drops: list[DroppedFields] = []
    for batch in batches:
        if batch.table.num_rows:
            tables.append(batch.table)
        rejects.extend(batch.rejects)
        drops.append(batch.dropped)
    if not tables:
        return TableBatch(EVENT_SCHEMA.empty_table(), rejects, total_of(drops))
    combined = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
    return TableBatch(_dedup_table(combined), rejects, total_of(drops))


def concat_batches(batches: Iterable[Batch]) -> Batch:
    """One batch from many: events deduplicated by id (first occurrence kept), rejects joined,
    dropped fields summed."""
    frames: list[pd.DataFrame] = []
    rejects: list[Reject] = []
    drops: list[DroppedFields] = []
    for batch in batches:
        if len(batch.events):
            frames.append(batch.events)
        rejects.extend(batch.rejects)
        drops.append(batch.dropped)
    if not frames:
        return Batch(empty_events(), rejects, total_of(drops))
    events = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return Batch(_dedup(events), rejects, total_of(drops))


def filter_time(events: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Events with ``start <= time < end`` (for sources whose files are not laid out by time)."""
    times = events["time"]
    mask = (times >= pd.Timestamp(start)) & (times < pd.Timestamp(end))
    return events[mask.fillna(False).astype(bool)].reset_index(drop=True)


def _dedup(events: pd.DataFrame) -> pd.DataFrame:
    column = events["id"].array
    if isinstance(column, pd.arrays.ArrowExtensionArray):
        # Arrow's hash count is ~10x cheaper than pandas' factorize when ids are unique.
        ids = pa.array(column)  # its own ChunkedArray, via __arrow_array__ (no copy)
        if not _unique(ids):
            events = events[_first_seen(ids)]
    else:
        duplicated = events["id"].duplicated(keep="first")
        if duplicated.any():
            events = events[~duplicated]
    return events.reset_index(drop=True)


def _normalize(data: bytes, source: str, settings: Settings) -> TableBatch:
    pending = _Pending()
    pending.add(_split(data, source, settings))
    return _decode(pending)


def _split(data: bytes, source: str, settings: Settings) -> Split:
    return split_blob(
        data,
        source,
        max_file_bytes=settings.max_file_bytes,
        max_record_bytes=settings.max_record_bytes,
    )


@dataclass(slots=True)
class _Pending:
    """Split blobs waiting to be decoded together; record positions are global in the chunk.

    Blob k's record i has position ``bases[k] + i``, so one decode serves many small blobs and
    every reject still names its own blob and index.
    """

    splits: list[Split] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    bases: list[int] = field(default_factory=list)
    aws: list[Raw] = field(default_factory=list)
    aws_index: list[int] = field(default_factory=list)
    gcp: list[Raw] = field(default_factory=list)
    gcp_index: list[int] = field(default_factory=list)
    size: int = 0
    carry: bool = False
    """Tables hold the ``carried`` columns too."""

    @property
    def records(self) -> int:
        return len(self.aws) + len(self.gcp)

    def add(self, split: Split) -> None:
        base = self.size
        self.splits.append(split)
        self.sources.append(split.source)
        self.bases.append(base)
        self.aws.extend(split.aws)
        self.aws_index.extend(map(base.__add__, split.aws_index) if base else split.aws_index)
        self.gcp.extend(split.gcp)
        self.gcp_index.extend(map(base.__add__, split.gcp_index) if base else split.gcp_index)
        # Each provider's indexes ascend, so its last is its largest.
        local = [r.index or 0 for r in split.rejects]
        local += [indexes[-1] for indexes in (split.aws_index, split.gcp_index) if indexes]
        self.size = base + (max(local) + 1 if local else 1)

    def locate(self, position: int) -> tuple[str, int]:
        """(blob name, record index in that blob) of a global position."""
        k = bisect_right(self.bases, position) - 1
        return self.sources[k], position - self.bases[k]


DECODE_RECORDS = 2048
"""Records decoded together: the decoded objects, the joined JSON and the raw column of one
slice are what a blob costs beyond its bytes and its finished table. A 50k-record CloudTrail
file decoded whole peaked ~300 MB over the process; slices keep that to a fraction while one
typed decode call still serves thousands of records. Per record, 1-4k-record slices decode and
normalize no slower than 8k ones (5.4-6.0 vs 6.2 us; a slice's fixed cost is ~0.7 ms), and at
288k events 2k-record slices peak ~50 MiB lower than 8k ones. A chunk is cut into
round(positions / DECODE_RECORDS) equal slices (at most 3/2 this many positions, at least 3/4
when there are two or more): cut every DECODE_RECORDS, the remainders of 288k events' chunks
were 62 slices of under 512 records, each paying the fixed cost."""


def _decode(pending: _Pending, dedup: bool = True) -> TableBatch:
    """Decode and normalize all pending records in equal slices of about ``DECODE_RECORDS``
    positions; rejects sorted by blob, then record; repeated ids dropped unless not ``dedup``."""
    keyed: list[tuple[float, Reject]] = []
    for base, split in zip(pending.bases, pending.splits, strict=True):
        keyed.extend((base + (r.index if r.index is not None else -0.5), r) for r in split.rejects)
    tables: list[pa.Table] = []
    drops: list[tuple[str, str]] = []
    # round(size / DECODE_RECORDS) slices, at least one.
    count = max(1, (2 * pending.size + DECODE_RECORDS) // (2 * DECODE_RECORDS))
    bounds = [pending.size * k // count for k in range(count + 1)]
    for low, high in itertools.pairwise(bounds):
        table = _decode_slice(pending, low, high, keyed, drops)
        if table is not None:
            tables.append(table)
    keyed.sort(key=lambda pair: pair[0])
    rejects = [r for _, r in keyed]
    dropped = DroppedFields.of(drops) if drops else NO_DROPS
    if not tables:
        return TableBatch(empty_table(carry=pending.carry), rejects, dropped)
    combined = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
    return TableBatch(_dedup_table(combined) if dedup else combined, rejects, dropped)


def _decode_slice(
    pending: _Pending,
    low: int,
    high: int,
    keyed: list[tuple[float, Reject]],
    drops: list[tuple[str, str]],
) -> pa.Table | None:
    """The records at positions ``[low, high)`` as one table in position order (None if none
    decoded); their rejects are added to ``keyed``, the (field, reason) of each field a kept
    record was decoded without to ``drops``. Positions ascend in each provider's list."""
    aws_from, aws_to = bisect_left(pending.aws_index, low), bisect_left(pending.aws_index, high)
    gcp_from, gcp_to = bisect_left(pending.gcp_index, low), bisect_left(pending.gcp_index, high)
    parts: list[tuple[pa.Table, list[int]]] = []

    def reject(position: int, raw: Raw | None, reason: str) -> None:
        source, index = pending.locate(position)
        snippet = snippet_of(bytes(memoryview(raw)[:512])) if raw is not None else ""
        keyed.append((position, Reject(source, index, reason, snippet)))

    def add(table: pa.Table, decoded: Decoded[Any], bad_time: list[int]) -> None:
        index = decoded.index
        late = set(bad_time)
        for position, lost in decoded.dropped.items():
            if position not in late and kept_row(decoded, position) is not None:
                drops.extend(lost)
        if bad_time:
            valid = pc.is_valid(table["time"])
            table = table.filter(valid)
            index = [i for i, ok in zip(index, valid.to_pylist(), strict=True) if ok]
            for position in bad_time:
                reject(position, None, _TIME_REASON)
        if table.num_rows:
            parts.append((table, index))

    first_aws = aws.decode(pending.aws[aws_from:aws_to], pending.aws_index[aws_from:aws_to])
    gcp_raws, gcp_index = pending.gcp[gcp_from:gcp_to], pending.gcp_index[gcp_from:gcp_to]
    moved_to_gcp: set[int] = set()
    for position, raw, reason in first_aws.failures:
        if classify(raw) == "gcp":  # the substring hint was fooled; the real keys say GCP
            gcp_raws.append(raw)
            gcp_index.append(position)
            moved_to_gcp.add(position)
        else:
            reject(position, raw, reason)
    entries = gcp.decode(gcp_raws, gcp_index)
    retry_raws: list[Raw] = []
    retry_index: list[int] = []
    for position, raw, reason in entries.failures:
        if position not in moved_to_gcp and classify(raw) == "aws":
            retry_raws.append(raw)
            retry_index.append(position)
        else:
            reject(position, raw, reason)
    second_aws = aws.decode(retry_raws, retry_index)
    for position, raw, reason in second_aws.failures:
        reject(position, raw, reason)

    for decoded_aws in (first_aws, second_aws):
        if decoded_aws.records:
            table, bad = aws.table(decoded_aws, carry=pending.carry)
            add(table, decoded_aws, bad)
    if entries.records:
        table, bad = gcp.table(entries)
        add(carried.with_unknown(table) if pending.carry else table, entries, bad)
    if not parts:
        return None
    if len(parts) == 1:
        return _with_origin(parts[0][0], parts[0][1], pending)
    # Keep the blob's own order when providers or retries interleave.
    combined = pa.concat_tables([table for table, _ in parts])
    positions = [i for _, index in parts for i in index]
    order = pc.sort_indices(pa.array(positions, pa.int64()))
    return _with_origin(combined.take(order), sorted(positions), pending)


def empty_table(*, carry: bool = False) -> pa.Table:
    """An empty table of the shape ``normalize_table_chunks(carry=carry)`` yields."""
    return carried.empty() if carry else EVENT_SCHEMA.empty_table()


def _with_origin(table: pa.Table, positions: list[int], pending: _Pending) -> pa.Table:
    """Each row's ``origin``: the name of the blob its record came from (provenance)."""
    if len(pending.sources) == 1:  # one blob (a push, a file): no lookup per row
        origin = pa.repeat(pa.scalar(pending.sources[0], pa.string()), table.num_rows)
    else:
        blob = np.searchsorted(np.asarray(pending.bases), np.asarray(positions), side="right")
        names = pa.array(pending.sources, pa.string())
        indices = pa.array(blob - 1, pa.int32())
        origin = pa.DictionaryArray.from_arrays(indices, names).cast(pa.string())
    at = table.schema.get_field_index("origin")
    return table.set_column(at, EVENT_SCHEMA.field("origin"), origin)
