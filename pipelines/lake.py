"""The event lake: normalized events as Parquet, partitioned by provider and UTC day.

Layout: ``<root>/provider=aws/date=2026-03-02/part-<uuid>.parquet`` (zstd). ``provider`` and
``date`` live in the path only. Rows in a file are sorted by (account, principal, time) in row
groups of ``ROW_GROUP_ROWS``, so the min/max statistics of a row group let a reader of one
account, or of a range of its principals, skip the rest (``service.scoring.partitions``).
Appends drop events whose id the touched partitions already hold, so re-ingesting a file, or
the same event from LookupEvents and S3, stores it once. Every file appears whole: local
writes go to a dot-file that readers ignore and are renamed; S3 objects only become visible
when their upload completes. A crash between compaction's write and its deletes leaves
duplicates on disk, never lost events, so reads drop repeated ids too.

One writer per lake at a time (the ingest or score job); readers may run alongside. An
``EventLake`` keeps an ``IdIndex`` of each partition it has appended to (128-bit hashes of the
ids, 16 bytes an event: a 10M-event day is 160 MB, where the ids as strings were ~600 MB and
every append rebuilt a hash table of all of them), so appends cost the size of the batch, not
of the lake; append in batches of thousands of events, not per file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipelines.events import EVENT_COLUMNS, EVENT_SCHEMA, empty_events, events_from_arrow
from pipelines.private import private_dir, private_file

PARTITIONING: Final = pa.schema([("provider", pa.string()), ("date", pa.date32())])
FILE_SCHEMA: Final = pa.schema([f for f in EVENT_SCHEMA if f.name != "provider"])
"""What each Parquet file holds: the event schema less the ``provider`` path column."""
DATASET_SCHEMA: Final = pa.schema([*FILE_SCHEMA, *PARTITIONING])
FILE_ORDER: Final = (("account", "ascending"), ("principal", "ascending"), ("time", "ascending"))
"""Row order inside a file: one account's (and one principal's) rows share few row groups."""
ROW_GROUP_ROWS: Final = 8192
"""Small enough that reading one account of a 50k-event file skips most of it."""
_TMP_PREFIX: Final = "."
_HASH_KEYS: Final = ("functrail-lake-1", "functrail-lake-2")
MAX_RUN: Final = 1 << 21
"""Ids in one sorted run of an ``IdIndex`` (32 MB): bounds what a merge holds; a 10M-event
day is five full runs, each searched once per append."""


class IdIndex:
    """The ids one lake partition holds, as two independent 64-bit hashes each, in sorted runs.

    Why hashes: the duplicate check of a 10M-event day must stay a small fraction of the 2 GB
    budget. Two 64-bit SipHashes make a false "already stored" (a new event dropped) about as
    likely as two random UUIDs colliding (~n^2 / 2^129, 1e-25 for 10M ids). Runs merge like a
    binary counter up to ``MAX_RUN`` ids, so adding a batch never rebuilds the day, and a probe
    is one sorted search per run (a few runs of ``MAX_RUN`` plus a logarithmic tail).
    """

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(len(first) for first, _ in self._runs)

    @staticmethod
    def hashes(ids: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """The two hashes of each id (uint64 arrays)."""
        values = ids.to_numpy(zero_copy_only=False)
        return tuple(  # type: ignore[return-value]
            pd.util.hash_array(values, hash_key=key, categorize=False) for key in _HASH_KEYS
        )

    def contains(self, hashed: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """A bool per id: already in the index.

        The batch is searched in sorted order (one argsort of the batch): neighbouring probes
        then touch neighbouring parts of a run, ~5x faster than random probes into a run of
        millions, which matters once a day is several capped runs.
        """
        first, second = hashed
        order = np.argsort(first, kind="stable")
        first, second = first[order], second[order]
        found = np.zeros(len(first), dtype=bool)
        for run_first, run_second in self._runs:
            left = np.searchsorted(run_first, first, side="left")
            at = np.minimum(left, len(run_first) - 1)
            hit = run_first[at] == first
            found |= hit & (run_second[at] == second)
            # A 64-bit collision inside the run: the same first hash on several rows.
            tied = np.flatnonzero(hit & (at + 1 < len(run_first)))
            tied = tied[run_first[np.minimum(at[tied] + 1, len(run_first) - 1)] == first[tied]]
            for i in tied:
                right = np.searchsorted(run_first, first[i], side="right")
                found[i] |= bool((run_second[left[i] : right] == second[i]).any())
        out = np.empty_like(found)
        out[order] = found
        return out

    def add(self, hashed: tuple[np.ndarray, np.ndarray]) -> None:
        """Add ids (hashes from ``hashes``) not already present.

        Runs merge like a binary counter up to ``MAX_RUN`` ids: merging two runs holds both
        and the result at once, so an uncapped last merge of a 10M-event day held ~40 bytes an
        event (400 MB) for a moment; capped, the transient stays ~40 bytes x ``MAX_RUN``.
        """
        first, second = hashed
        if not len(first):
            return
        order = np.argsort(first, kind="stable")
        self._runs.append((first[order], second[order]))
        while len(self._runs) > 1:
            earlier, later = len(self._runs[-2][0]), len(self._runs[-1][0])
            if earlier > 2 * later or earlier + later > MAX_RUN:
                break
            b, a = self._runs.pop(), self._runs.pop()
            self._runs.append(_merge_runs(a, b))


class EventLake:
    """Append, dedup and read normalized events in a folder or an ``s3://`` prefix."""

    def __init__(self, root: str, filesystem: pafs.FileSystem | None = None) -> None:
        """``root``: a folder or URI (``s3://bucket/prefix``); with ``filesystem``, a path in it."""
        if filesystem is not None:
            self.fs, self.root = filesystem, root.rstrip("/")
        elif "://" in root:
            self.fs, path = pafs.FileSystem.from_uri(root)
            self.root = path.rstrip("/")
        else:
            self.fs, self.root = pafs.LocalFileSystem(), os.path.abspath(root)
        self._local = isinstance(self.fs, pafs.LocalFileSystem)
        # Ids per partition, read once per process: appends stay O(batch), not O(lake).
        self._known: dict[tuple[str, date], IdIndex] = {}

    # -- writing -------------------------------------------------------------------------------

    def append(self, events: pd.DataFrame) -> int:
        """Store the events not already in the lake; returns how many were new."""
        if not len(events):
            return 0
        return self.append_table(_events_table(events))

    def append_table(self, events: pa.Table) -> int:
        """``append`` for an Arrow table with EVENT_SCHEMA (``normalize_table`` output)."""
        if not events.num_rows:
            return 0
        table = _dedup(events.select(list(EVENT_COLUMNS)).cast(EVENT_SCHEMA))
        days = pc.cast(table["time"], pa.date32())
        table = table.append_column("date", days)
        written = 0
        keys = table.select(["provider", "date"]).group_by(["provider", "date"]).aggregate([])
        for provider, day in zip(
            keys["provider"].to_pylist(), keys["date"].to_pylist(), strict=True
        ):
            if keys.num_rows == 1:  # the usual batch: one partition, no copy of it
                part = table
            else:
                mask = pc.and_(pc.equal(table["provider"], provider), pc.equal(table["date"], day))
                part = table.filter(mask)
            known = self._ids(provider, day)
            hashed = IdIndex.hashes(part["id"])
            seen = known.contains(hashed)
            if seen.any():
                fresh = ~seen
                part = part.filter(pa.array(fresh))
                hashed = (hashed[0][fresh], hashed[1][fresh])
            if part.num_rows:
                self._write(provider, day, part.drop_columns(["provider", "date"]))
                known.add(hashed)
                written += part.num_rows
        return written

    def compact(self) -> int:
        """Rewrite each partition of several files as one (ids deduplicated); returns partitions."""
        compacted = 0
        for provider, day in self.days():
            files = self._files(provider, day)
            if len(files) < 2:
                continue
            table = ds.dataset(files, schema=FILE_SCHEMA, filesystem=self.fs).to_table()
            self._write(provider, day, _dedup(table))
            for path in files:
                self.fs.delete_file(path)
            compacted += 1
        return compacted

    def _write(self, provider: str, day: date, table: pa.Table) -> None:
        folder = self._partition(provider, day)
        if self._local:  # audit records: the owner's only (0700 folders, 0600 files)
            private_dir(self.root)
            private_dir(folder)
        else:
            self.fs.create_dir(folder, recursive=True)
        final = f"{folder}/part-{uuid.uuid4().hex}.parquet"
        if not self._local:
            # An S3 object is invisible until its (multipart) upload completes: already atomic.
            _write_sorted(table, final, self.fs)
            return
        temp = f"{folder}/{_TMP_PREFIX}{uuid.uuid4().hex}.tmp"
        try:
            _write_sorted(table, temp, self.fs)
            private_file(temp)
            self.fs.move(temp, final)
        except BaseException:
            if self.fs.get_file_info(temp).type != pafs.FileType.NotFound:
                self.fs.delete_file(temp)
            raise

    # -- reading -------------------------------------------------------------------------------

    def read(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        providers: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Events with ``start <= time < end`` (UTC), pruned to the partitions that can hold them.

        ``columns`` projects (``id``, ``time`` and ``provider`` are always kept).
        """
        dataset = self.dataset()
        wanted = list(EVENT_COLUMNS) if columns is None else _with_keys(columns)
        if dataset is None:
            return empty_events()[wanted]
        expr = _range_filter(start, end)
        if providers is not None:
            provider_filter = ds.field("provider").isin(list(providers))
            expr = provider_filter if expr is None else expr & provider_filter
        table = dataset.to_table(columns=wanted, filter=expr)
        return _to_events(table, wanted)

    def get(
        self, ids: Sequence[str], *, start: datetime | None = None, end: datetime | None = None
    ) -> pd.DataFrame:
        """The events with these ids (alert evidence); a time range, when known, prunes the scan."""
        dataset = self.dataset()
        if dataset is None or not ids:
            return empty_events()
        expr = ds.field("id").isin(list(dict.fromkeys(ids)))
        window = _range_filter(start, end)
        if window is not None:
            expr = expr & window
        return _to_events(dataset.to_table(columns=list(EVENT_COLUMNS), filter=expr), None)

    def days(self) -> list[tuple[str, date]]:
        """The (provider, day) partitions present, sorted."""
        found: list[tuple[str, date]] = []
        for provider_dir in self._children(self.root):
            provider = _value(provider_dir, "provider")
            if provider is None:
                continue
            for day_dir in self._children(provider_dir):
                day = _value(day_dir, "date")
                if day is not None and self._files_in(day_dir):
                    found.append((provider, date.fromisoformat(day)))
        return sorted(found)

    # -- helpers -------------------------------------------------------------------------------

    def dataset(self) -> ds.Dataset | None:
        """The lake as a hive-partitioned dataset (None while empty), temp files hidden."""
        if self.fs.get_file_info(self.root).type != pafs.FileType.Directory:
            return None
        return ds.dataset(
            self.root,
            schema=DATASET_SCHEMA,
            format="parquet",
            filesystem=self.fs,
            partitioning=ds.partitioning(PARTITIONING, flavor="hive"),
            ignore_prefixes=[_TMP_PREFIX, "_"],
        )

    def _partition(self, provider: str, day: date) -> str:
        return f"{self.root}/provider={provider}/date={day.isoformat()}"

    def _files(self, provider: str, day: date) -> list[str]:
        return self._files_in(self._partition(provider, day))

    def _files_in(self, folder: str) -> list[str]:
        selector = pafs.FileSelector(folder, allow_not_found=True)
        return sorted(
            info.path
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.File
            and info.base_name.endswith(".parquet")
            and not info.base_name.startswith((_TMP_PREFIX, "_"))
        )

    def _children(self, folder: str) -> list[str]:
        selector = pafs.FileSelector(folder, allow_not_found=True)
        return sorted(
            info.path
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.Directory
        )

    def _ids(self, provider: str, day: date) -> IdIndex:
        key = (provider, day)
        if key not in self._known:
            index = IdIndex()
            files = self._files(provider, day)
            if files:  # one batch at a time: the index, not the ids, is what stays
                dataset = ds.dataset(files, schema=FILE_SCHEMA, filesystem=self.fs)
                for batch in dataset.to_batches(columns=["id"]):
                    hashed = IdIndex.hashes(batch.column(0))
                    fresh = ~index.contains(hashed)
                    index.add((hashed[0][fresh], hashed[1][fresh]))
            self._known[key] = index
        return self._known[key]


def _write_sorted(table: pa.Table, path: str, fs: pafs.FileSystem) -> None:
    """``table`` as zstd Parquet in ``FILE_ORDER``, one row group at a time: the sorted copy
    of the batch is never whole, only the sort order (8 bytes a row) and one group."""
    order = pc.sort_indices(table, sort_keys=list(FILE_ORDER)).to_numpy().astype(np.int64)
    batches = table.to_batches()  # zero-copy pieces: take on a chunked table concatenates
    starts = np.cumsum([0] + [batch.num_rows for batch in batches], dtype=np.int64)
    with pq.ParquetWriter(path, FILE_SCHEMA, filesystem=fs, compression="zstd") as writer:
        for first in range(0, table.num_rows, ROW_GROUP_ROWS):
            group = _take_rows(batches, starts, order[first : first + ROW_GROUP_ROWS])
            writer.write_table(group.cast(FILE_SCHEMA), row_group_size=ROW_GROUP_ROWS)


def _take_rows(batches: list[pa.RecordBatch], starts: np.ndarray, rows: np.ndarray) -> pa.Table:
    """The rows at table positions ``rows`` (in that order) of the batches starting at
    ``starts``. ``Table.take`` would first concatenate every chunked column whole (the raw
    JSON of the batch, ~100 MB at a flush); this takes from each batch what it holds."""
    which = np.searchsorted(starts, rows, side="right") - 1
    by_batch = np.argsort(which, kind="stable")
    pieces = []
    for b in np.unique(which):
        local = rows[by_batch][which[by_batch] == b] - starts[b]
        pieces.append(batches[b].take(pa.array(local)))
    back = np.empty_like(by_batch)
    back[by_batch] = np.arange(len(by_batch))
    return pa.Table.from_batches(pieces).take(pa.array(back))


def _merge_runs(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Two runs sorted by first hash as one, by placing each element at its merged position:
    no sort, and the extra memory is the output plus two position arrays, not four copies."""
    at_a = np.arange(len(a[0])) + np.searchsorted(b[0], a[0], side="left")
    at_b = np.arange(len(b[0])) + np.searchsorted(a[0], b[0], side="right")
    merged = []
    for i in range(2):
        out = np.empty(len(a[i]) + len(b[i]), dtype=a[i].dtype)
        out[at_a], out[at_b] = a[i], b[i]
        merged.append(out)
    return merged[0], merged[1]


def _events_table(events: pd.DataFrame) -> pa.Table:
    missing = [name for name in EVENT_COLUMNS if name not in events.columns]
    if missing:
        raise ValueError(f"events lack column(s) {missing}: not an event batch")
    table = pa.Table.from_pandas(events[list(EVENT_COLUMNS)], preserve_index=False)
    return table.cast(EVENT_SCHEMA)


def _dedup(table: pa.Table) -> pa.Table:
    """First row of each id (ids are unique per provider, so provider joins the key if present)."""
    keys = ["provider", "id"] if "provider" in table.column_names else ["id"]
    if table.num_rows < 2:
        return table
    numbered = table.append_column("__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    first = numbered.group_by(keys, use_threads=False).aggregate([("__row", "min")])
    if first.num_rows == table.num_rows:
        return table
    rows = first["__row_min"]
    return table.take(pc.take(rows, pc.sort_indices(rows)))


def _range_filter(start: datetime | None, end: datetime | None) -> ds.Expression | None:
    """Time bounds, plus the same bounds on ``date`` so whole partitions are skipped unread."""
    expr: ds.Expression | None = None
    if start is not None:
        first = _utc(start)
        expr = (ds.field("date") >= first.date()) & (ds.field("time") >= _ts(first))
    if end is not None:
        stop = _utc(end)
        last_day = (stop - timedelta(microseconds=1)).date()
        until = (ds.field("date") <= last_day) & (ds.field("time") < _ts(stop))
        expr = until if expr is None else expr & until
    return expr


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _ts(moment: datetime) -> pa.Scalar:
    return pa.scalar(moment, pa.timestamp("us", tz="UTC"))


def _with_keys(columns: Sequence[str]) -> list[str]:
    unknown = [name for name in columns if name not in EVENT_COLUMNS]
    if unknown:
        raise ValueError(f"unknown event column(s) {unknown}")
    keep = {"id", "time", "provider", *columns}
    return [name for name in EVENT_COLUMNS if name in keep]


def _to_events(table: pa.Table, columns: list[str] | None) -> pd.DataFrame:
    table = _by_time(_dedup(table))
    if columns is None or len(columns) == len(EVENT_COLUMNS):
        return events_from_arrow(table)
    schema = pa.schema([EVENT_SCHEMA.field(name) for name in columns])
    return table.select(columns).cast(schema).to_pandas(types_mapper=pd.ArrowDtype)


def _by_time(table: pa.Table) -> pa.Table:
    """Sorted by time; files are already, so the costly ``take`` runs only across partitions."""
    order = pc.sort_indices(table["time"])
    if (
        pc.all(pc.equal(order, pa.array(np.arange(len(order), dtype=np.uint64)))).as_py()
        is not False
    ):
        return table
    return table.take(order)


def _value(path: str, key: str) -> str | None:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    prefix = f"{key}="
    return name[len(prefix) :] if name.startswith(prefix) else None
