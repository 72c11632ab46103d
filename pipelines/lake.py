"""The event lake: normalized events as Parquet, partitioned by provider and UTC day.

Layout: ``<root>/provider=aws/date=2026-03-02/part-<uuid>.parquet`` (zstd). ``provider`` and
``date`` live in the path only. Rows in a file are sorted by (account, principal, time) in row
groups of ``ROW_GROUP_ROWS``, so the min/max statistics of a row group let a reader of one
account, or of a range of its principals, skip the rest (``service.scoring.partitions``).
Every file appears whole: local writes go to a dot-file that readers ignore and are renamed;
S3 objects only become visible when their upload completes.

Storing follows ``pipelines.provenance``: a repeat of a stored record is dropped (re-ingesting a
file, or one event from LookupEvents and S3, stores it once), a pulled record is never hidden
by a pushed one, and two records with one id and different content are reported as conflicts.
Each file also holds a ``digest`` of every record (lake-internal; the event model's readers
never select it), so a new writer learns what a partition holds from ids and digests alone.

Writers: any number of processes, one at a time. ``store`` and the compactions hold an
``flock`` on ``<root>/_writer.lock`` (local lakes; an ``s3://`` lake needs one writing host),
and before deciding anything a writer reads the ids of the files another wrote since it last
looked, so its ``IdIndex`` of a partition is never stale. Appends cost the size of the batch,
not of the lake; the indexes of the ``MAX_PARTITIONS`` partitions touched last are kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipelines.events import EVENT_COLUMNS, EVENT_SCHEMA, empty_events, events_from_arrow
from pipelines.lake_counts import PartitionCounts, count_events
from pipelines.lake_files import TMP_PREFIX, write_whole
from pipelines.lake_index import IdIndex, PartitionIndex
from pipelines.private import private_dir
from pipelines.provenance import (
    Conflict,
    Stored,
    digests,
    first_of_each_id,
    is_pushed,
    one_per_id,
    same_content,
)

PARTITIONING: Final = pa.schema([("provider", pa.string()), ("date", pa.date32())])
FILE_SCHEMA: Final = pa.schema(
    [*(f for f in EVENT_SCHEMA if f.name != "provider"), pa.field("digest", pa.uint64())]
)
"""What each Parquet file holds: the event schema less the ``provider`` path column, plus the
lake's own ``digest`` of each record (null in files written before it existed)."""
DATASET_SCHEMA: Final = pa.schema([*FILE_SCHEMA, *PARTITIONING])
LOCK_FILE: Final = "_writer.lock"
CONFLICTS_DIR: Final = "_conflicts"
"""Pushed records a different pulled record with their id superseded, kept for forensics
(readers skip ``_`` names)."""
_COUNTED: Final = ["id", "origin", "time", "account", "service", "raw_action", "raw"]
"""The columns ``one_per_id`` and ``count_events`` read when a partition is counted anew."""
MAX_PARTITIONS: Final = 8
"""Partition indexes kept per lake object (LRU): a long-running writer must not keep every
day it ever touched (24 bytes an event each)."""
SMALL_FILE_BYTES: Final = 4 * 1024 * 1024
SMALL_FILES: Final = 32
"""``compact_small`` merges a partition's files under ``SMALL_FILE_BYTES`` once there are
this many: a writer storing every second (pushes, micro-batches) keeps a day at ~one file per
4 MiB plus at most this many small ones."""


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
        self.counts = PartitionCounts(self.fs, self.root, local=self._local)
        """Events per (account, log type, hour) of each partition, kept by ``store``."""
        self._known: OrderedDict[tuple[str, date], PartitionIndex] = OrderedDict()
        self._thread_lock = threading.Lock()

    # -- writing -------------------------------------------------------------------------------

    def append(self, events: pd.DataFrame) -> int:
        """Store the events not already in the lake; returns how many were new."""
        if not len(events):
            return 0
        return self.store(_events_table(events)).count

    def append_table(self, events: pa.Table) -> int:
        """``append`` for an Arrow table with EVENT_SCHEMA (``normalize_table`` output)."""
        return self.store(events).count

    def store(self, events: pa.Table) -> Stored:
        """Store what is new of ``events`` (EVENT_SCHEMA) under the provenance rules: the rows
        written, how many were repeats, and the conflicts found (``pipelines.provenance``)."""
        if not events.num_rows:
            return Stored(EVENT_SCHEMA.empty_table())
        table = events.select(list(EVENT_COLUMNS)).cast(EVENT_SCHEMA)
        table, conflicts, duplicates = first_of_each_id(table)
        table = table.append_column("digest", pa.array(digests(table["raw"]), pa.uint64()))
        table = table.append_column("date", pc.cast(table["time"], pa.date32()))
        written: list[pa.Table] = []
        with self._writing():
            groups = table.select(["provider", "date"]).group_by(["provider", "date"])
            keys = groups.aggregate([])
            for provider, day in zip(
                keys["provider"].to_pylist(), keys["date"].to_pylist(), strict=True
            ):
                if keys.num_rows == 1:  # the usual batch: one partition, no copy of it
                    part = table
                else:
                    mask = pc.and_(
                        pc.equal(table["provider"], provider), pc.equal(table["date"], day)
                    )
                    part = table.filter(mask)
                new, found, dropped = self._store_partition(provider, day, part)
                written.append(new)
                conflicts.extend(found)
                duplicates += dropped
        out = pa.concat_tables(written).select(list(EVENT_COLUMNS)) if written else None
        return Stored(out if out is not None else EVENT_SCHEMA.empty_table(), duplicates, conflicts)

    def _store_partition(
        self, provider: str, day: date, part: pa.Table
    ) -> tuple[pa.Table, list[Conflict], int]:
        """Store one partition's rows (under the writer lock): written, conflicts, dropped."""
        index = self._index(provider, day)
        hashed = IdIndex.hashes(part["id"])
        digest = part["digest"].to_numpy()
        pushed = is_pushed(part["origin"])
        pulled_found, pulled_digest = index.pulled.lookup(hashed)
        pushed_found, pushed_digest = index.pushed.lookup(hashed)
        # A stored twin with another digest: the same record written otherwise, or a conflict.
        vs_pulled = pulled_found & (pulled_digest != digest)
        vs_pushed = ~pulled_found & pushed_found & (pushed_digest != digest)
        conflicts: list[Conflict] = []
        superseded: list[str] = []
        if (vs_pulled | vs_pushed).any():
            ids = part["id"].to_pylist()
            candidates = np.flatnonzero(vs_pulled | vs_pushed)
            rows = part.take(pa.array(candidates)).to_pylist()
            twins = self._stored_twins(provider, day, [ids[i] for i in candidates])
            for i, row in zip(candidates, rows, strict=True):
                twin = twins.get((ids[i], bool(vs_pushed[i])))
                if twin is not None and same_content(twin["raw"], row["raw"]):
                    vs_pulled[i] = vs_pushed[i] = False
                    continue
                incoming = _record(row, provider)
                stored = _record(twin, provider) if twin is not None else None
                if vs_pushed[i] and not pushed[i]:  # a pull supersedes a different push
                    superseded.append(ids[i])
                    if stored is not None:
                        conflicts.append(Conflict(provider, ids[i], incoming, stored))
                elif stored is not None:
                    conflicts.append(Conflict(provider, ids[i], stored, incoming))
        keep = (~pulled_found & ~pushed_found) | (~pushed & vs_pushed)
        if superseded:
            self._set_aside(provider, day, superseded)  # before the pulls: never both visible
        new = part if keep.all() else part.filter(pa.array(keep))
        if new.num_rows:
            self._write(provider, day, new.drop_columns(["provider", "date"]))
            index.add((hashed[0][keep], hashed[1][keep]), digest[keep], pushed[keep])
            self.counts.add(provider, day, new)
        return new, conflicts, int(part.num_rows - new.num_rows)

    def compact(self) -> int:
        """Rewrite each partition of several files as one (ids deduplicated); returns partitions."""
        compacted = 0
        with self._writing():
            for provider, day in self.days():
                files = self._files(provider, day)
                if len(files) < 2:
                    continue
                self._merge(provider, day, files)
                compacted += 1
        return compacted

    def compact_small(self, provider: str, day: date) -> bool:
        """Merge the partition's small files once ``SMALL_FILES`` of them gathered; True if it
        did. Costs the small files, never the day: what frequent writers call after storing."""
        with self._writing():
            small = [
                info.path
                for info in self._file_infos(self._partition(provider, day))
                if info.size is not None and info.size < SMALL_FILE_BYTES
            ]
            if len(small) < SMALL_FILES:
                return False
            self._merge(provider, day, sorted(small))
            return True

    def partition_counts(self, provider: str, day: date) -> pa.Table | None:
        """The partition's counts (``pipelines.lake_counts``); None when it holds no events.

        A partition written before counts were kept is counted once from its files, and the
        counts saved, under the writer lock.
        """
        found = self.counts.read(provider, day)
        if found is not None:
            return found
        with self._writing():
            found = self.counts.read(provider, day)
            if found is not None:
                return found
            files = self._files(provider, day)
            if not files:
                return None
            dataset = ds.dataset(files, schema=FILE_SCHEMA, filesystem=self.fs)
            table = one_per_id(dataset.to_table(columns=_COUNTED))
            counted = count_events(provider, table)
            self.counts.write(provider, day, counted)
            return counted

    def drop_partition(self, provider: str, day: date) -> int:
        """Delete one partition's events and counts (retention); returns the files deleted."""
        with self._writing():
            files = self._files(provider, day)
            for path in files:
                self.fs.delete_file(path)
            with contextlib.suppress(OSError):
                self.fs.delete_dir(self._partition(provider, day))
            self.counts.drop(provider, day)
            self._known.pop((provider, day), None)
            return len(files)

    def _merge(self, provider: str, day: date, files: list[str]) -> None:
        table = ds.dataset(files, schema=FILE_SCHEMA, filesystem=self.fs).to_table()
        written = self._write(provider, day, one_per_id(table))
        for path in files:
            self.fs.delete_file(path)
        index = self._known.get((provider, day))
        if index is not None:
            index.files.difference_update(files)
            index.files.add(written)

    def _set_aside(self, provider: str, day: date, ids: list[str]) -> None:
        """Move the pushed rows with ``ids`` out of the partition into ``_conflicts/``.

        Each file holding one is replaced in place (the same name, atomically), so readers see
        the file with or without them, never a copy beside it.
        """
        wanted = pa.array(sorted(set(ids)), pa.string())
        for path in self._files(provider, day):
            probe = pq.read_table(path, columns=["id", "origin"], filesystem=self.fs)
            hit = pc.and_(
                pc.is_in(probe["id"], value_set=wanted), pa.array(is_pushed(probe["origin"]))
            )
            if not pc.any(hit).as_py():
                continue
            table = pq.read_table(path, schema=FILE_SCHEMA, filesystem=self.fs)
            aside = f"{self.root}/{CONFLICTS_DIR}/provider={provider}/date={day.isoformat()}"
            self._write_file(aside, f"part-{uuid.uuid4().hex}.parquet", table.filter(hit))
            rest = table.filter(pc.invert(hit))
            if rest.num_rows:
                self._write_file(self._partition(provider, day), path.rsplit("/", 1)[1], rest)
            else:
                self.fs.delete_file(path)

    def _stored_twins(
        self, provider: str, day: date, ids: list[str]
    ) -> dict[tuple[str, bool], dict[str, Any]]:
        """The stored rows with ``ids``, by (id, pushed)."""
        files = self._files(provider, day)
        if not files:
            return {}
        dataset = ds.dataset(files, schema=FILE_SCHEMA, filesystem=self.fs)
        found = dataset.to_table(filter=ds.field("id").isin(list(dict.fromkeys(ids))))
        pushed = is_pushed(found["origin"])
        return {
            (row["id"], bool(flag)): row
            for row, flag in zip(found.to_pylist(), pushed, strict=True)
        }

    def _write(self, provider: str, day: date, table: pa.Table) -> str:
        """A new file of ``table`` in the partition; returns its path."""
        return self._write_file(
            self._partition(provider, day), f"part-{uuid.uuid4().hex}.parquet", table
        )

    def _write_file(self, folder: str, name: str, table: pa.Table) -> str:
        """``table`` as ``folder/name``, whole or not at all (replacing a file of that name)."""
        digest = pa.array(digests(table["raw"]), pa.uint64())
        if "digest" in table.column_names:
            table = table.set_column(
                table.schema.get_field_index("digest"), FILE_SCHEMA.field("digest"), digest
            )
        else:
            table = table.append_column(FILE_SCHEMA.field("digest"), digest)
        if self._local:  # audit records: the owner's only (0700 folders, 0600 files)
            private_dir(self.root)
            private_dir(folder)
        return write_whole(self.fs, folder, name, table.cast(FILE_SCHEMA), local=self._local)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """The lake's writer lock: this process's threads, then every process (flock)."""
        with self._thread_lock:
            if not self._local:
                yield
                return
            private_dir(self.root)
            fd = os.open(f"{self.root}/{LOCK_FILE}", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

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

    def providers(self) -> list[str]:
        """The providers with a folder in the lake, sorted."""
        found = (_value(folder, "provider") for folder in self._children(self.root))
        return sorted(name for name in found if name is not None)

    def files(self, provider: str, day: date) -> list[str]:
        """The Parquet files of one partition (none for a partition not present)."""
        return self._files(provider, day)

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
            ignore_prefixes=[TMP_PREFIX, "_"],
        )

    def _partition(self, provider: str, day: date) -> str:
        return f"{self.root}/provider={provider}/date={day.isoformat()}"

    def _files(self, provider: str, day: date) -> list[str]:
        return self._files_in(self._partition(provider, day))

    def _files_in(self, folder: str) -> list[str]:
        return sorted(info.path for info in self._file_infos(folder))

    def _file_infos(self, folder: str) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(folder, allow_not_found=True)
        return [
            info
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.File
            and info.base_name.endswith(".parquet")
            and not info.base_name.startswith((TMP_PREFIX, "_"))
        ]

    def _children(self, folder: str) -> list[str]:
        selector = pafs.FileSelector(folder, allow_not_found=True)
        return sorted(
            info.path
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.Directory
        )

    def _index(self, provider: str, day: date) -> PartitionIndex:
        """The partition's index, first brought up to date with files written since (by
        another process, or before this object existed): call under the writer lock."""
        key = (provider, day)
        index = self._known.pop(key, None) or PartitionIndex()
        self._known[key] = index
        while len(self._known) > MAX_PARTITIONS:
            self._known.popitem(last=False)
        files = set(self._files(provider, day))
        unseen = sorted(files - index.files)
        if unseen:  # one batch at a time: the index, not the ids, is what stays
            dataset = ds.dataset(unseen, schema=FILE_SCHEMA, filesystem=self.fs)
            for batch in dataset.to_batches(columns=["id", "digest", "origin"]):
                # A file from before digests has none: 0, "unknown", makes a repeat of one of
                # its records compare with the stored record itself (slower, still right).
                digest = pc.fill_null(batch.column(1), 0).to_numpy(zero_copy_only=False)
                hashed = IdIndex.hashes(batch.column(0))
                index.add(hashed, digest.astype(np.uint64), is_pushed(batch.column(2)))
        index.files = files
        return index


def _record(row: dict[str, Any], provider: str) -> dict[str, Any]:
    """An event record (the event model's fields) from a stored or incoming row."""
    return {name: (provider if name == "provider" else row.get(name)) for name in EVENT_COLUMNS}


def _events_table(events: pd.DataFrame) -> pa.Table:
    missing = [name for name in EVENT_COLUMNS if name not in events.columns]
    if missing:
        raise ValueError(f"events lack column(s) {missing}: not an event batch")
    table = pa.Table.from_pandas(events[list(EVENT_COLUMNS)], preserve_index=False)
    return table.cast(EVENT_SCHEMA)


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
    table = _by_time(one_per_id(table))
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
