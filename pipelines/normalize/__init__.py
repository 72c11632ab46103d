"""The normalizer: any supported blob of audit records -> one batch in the event model.

``normalize_blob`` is the function every ingestion path calls (CLI, sources, the HTTP push
endpoint). It never raises for bad input: what cannot be read becomes a Reject naming the
blob, the record index and the reason, and everything else in the blob still comes through.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.events import EVENT_COLUMNS, EVENT_SCHEMA, empty_events
from pipelines.normalize import aws, gcp
from pipelines.normalize.decode import Raw
from pipelines.parse import classify, split_blob
from pipelines.rejects import Reject, snippet_of
from pipelines.settings import Settings
from pipelines.sources.base import Blob

__all__ = [
    "Batch",
    "concat_batches",
    "filter_time",
    "frame",
    "normalize_blob",
    "normalize_blobs",
    "normalize_chunks",
    "normalize_table",
]

_TIME_REASON = "time field (eventTime / timestamp) is not an ISO 8601 time"


class Batch(NamedTuple):
    """Normalized events (exactly EVENT_COLUMNS) and the records that were rejected."""

    events: pd.DataFrame
    rejects: list[Reject]


def normalize_blob(data: bytes, source: str, *, settings: Settings | None = None) -> Batch:
    """Detect format by content (gzip or not), parse, normalize. Never raises for bad input."""
    table, rejects = normalize_table(data, source, settings=settings)
    return Batch(frame(table) if table.num_rows else empty_events(), rejects)


def normalize_table(
    data: bytes, source: str, *, settings: Settings | None = None
) -> tuple[pa.Table, list[Reject]]:
    """``normalize_blob`` stopping at Arrow (EVENT_SCHEMA): for Parquet writers and merging."""
    settings = settings or Settings()
    collecting = gc.isenabled()
    # Decoding allocates many small objects; GC passes over them cost 2x (PERFORMANCE.md).
    gc.disable()
    try:
        return _normalize(data, source, settings)
    except Exception as exc:
        reason = f"internal error while normalizing ({type(exc).__name__}: {exc})"
        return EVENT_SCHEMA.empty_table(), [Reject(source, None, reason)]
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
    settings = settings or Settings()
    tables: list[pa.Table] = []
    rejects: list[Reject] = []
    rows = 0
    for blob in blobs:
        table, blob_rejects = normalize_table(blob.data, blob.name, settings=settings)
        rejects.extend(blob_rejects)
        if table.num_rows:
            tables.append(table)
            rows += table.num_rows
        if rows >= min_rows:
            yield _merge(tables, rejects)
            tables, rejects, rows = [], [], 0
    if tables or rejects:
        yield _merge(tables, rejects)


def _merge(tables: list[pa.Table], rejects: list[Reject]) -> Batch:
    if not tables:
        return Batch(empty_events(), rejects)
    combined = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
    return Batch(frame(_dedup_table(combined)), rejects)


def frame(table: pa.Table) -> pd.DataFrame:
    """The DataFrame of a table already in EVENT_SCHEMA (as ``events_from_arrow`` makes it).

    Wrapping each column in an ArrowExtensionArray is ~3x cheaper than ``to_pandas`` with a
    types mapper (1.5 ms vs 0.45 ms for a 50-row blob), which dominates many small files.
    """
    return pd.DataFrame(
        {name: pd.arrays.ArrowExtensionArray(table.column(name)) for name in EVENT_COLUMNS},
        copy=False,
    )


def _dedup_table(table: pa.Table) -> pa.Table:
    """Rows whose id was not seen earlier in the table (first occurrence kept)."""
    ids = table["id"]
    if pc.count_distinct(ids).as_py() == len(ids):
        return table
    repeated = ids.to_pandas().duplicated(keep="first").to_numpy()
    return table.filter(pa.array(~repeated))


def concat_batches(batches: Iterable[Batch]) -> Batch:
    """One batch from many: events deduplicated by id (first occurrence kept), rejects joined."""
    frames: list[pd.DataFrame] = []
    rejects: list[Reject] = []
    for batch in batches:
        if len(batch.events):
            frames.append(batch.events)
        rejects.extend(batch.rejects)
    if not frames:
        return Batch(empty_events(), rejects)
    events = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return Batch(_dedup(events), rejects)


def filter_time(events: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Events with ``start <= time < end`` (for sources whose files are not laid out by time)."""
    times = events["time"]
    mask = (times >= pd.Timestamp(start)) & (times < pd.Timestamp(end))
    return events[mask.fillna(False).astype(bool)].reset_index(drop=True)


def _dedup(events: pd.DataFrame) -> pd.DataFrame:
    duplicated = events["id"].duplicated(keep="first")
    if duplicated.any():
        events = events[~duplicated]
    return events.reset_index(drop=True)


def _normalize(data: bytes, source: str, settings: Settings) -> tuple[pa.Table, list[Reject]]:
    split = split_blob(
        data,
        source,
        max_file_bytes=settings.max_file_bytes,
        max_record_bytes=settings.max_record_bytes,
    )
    rejects = list(split.rejects)
    parts: list[tuple[pa.Table, list[int]]] = []

    def reject(position: int, raw: Raw, reason: str) -> None:
        rejects.append(Reject(source, position, reason, snippet_of(bytes(memoryview(raw)[:512]))))

    def add(table: pa.Table, index: list[int], bad_time: list[int]) -> None:
        if bad_time:
            valid = pc.is_valid(table["time"])
            table = table.filter(valid)
            index = [i for i, ok in zip(index, valid.to_pylist(), strict=True) if ok]
            rejects.extend(Reject(source, position, _TIME_REASON) for position in bad_time)
        if table.num_rows:
            parts.append((table, index))

    first_aws = aws.decode(split.aws, split.aws_index)
    gcp_raws, gcp_index = list(split.gcp), list(split.gcp_index)
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
            table, bad = aws.table(decoded_aws)
            add(table, decoded_aws.index, bad)
    if entries.records:
        table, bad = gcp.table(entries)
        add(table, entries.index, bad)
    rejects.sort(key=lambda r: -1 if r.index is None else r.index)
    if not parts:
        return EVENT_SCHEMA.empty_table(), rejects
    if len(parts) == 1:
        combined = parts[0][0]
    else:  # keep the blob's own order when providers or retries interleave
        combined = pa.concat_tables([table for table, _ in parts])
        order = pa.array([i for _, index in parts for i in index], pa.int64())
        combined = combined.take(pc.sort_indices(order))
    return _dedup_table(combined), rejects
