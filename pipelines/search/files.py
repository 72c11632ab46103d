"""The lake files a search reads: footers kept per process, row groups chosen by statistics.

A lake file is written whole and never changed (compaction writes new files and deletes the
old), so its footer, and the statistics a search prunes with, stay true for its path: they
are read once per process (``_FOOTERS_KEPT`` files at most) instead of once per search.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipelines.events import EVENT_SCHEMA
from pipelines.lake import EventLake
from pipelines.search.model import EventFilter, Position, to_micros

_FOOTERS_KEPT: Final = 4096
_UNKNOWN: Final = (np.iinfo(np.int64).min, np.iinfo(np.int64).max)

Range = tuple[bytes, bytes] | None
"""a row group's (min, max) of a string column as Parquet orders them; None: no statistics"""


@dataclass(frozen=True)
class Group:
    """One row group of one file of the search that may hold matches."""

    file: int
    index: int
    rows: int
    first: int
    last: int
    """min and max ``time`` (microseconds)"""


class Footer:
    """A file's metadata and the per-row-group statistics a search prunes with."""

    def __init__(self, meta: pq.FileMetaData) -> None:
        self.meta = meta
        self.names = frozenset(meta.schema.names)
        self._where = {meta.schema.column(i).name: i for i in range(meta.num_columns)}
        self._ranges: dict[str, list[Range | str]] = {}
        self._lock = threading.Lock()
        self.rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        self.spans = [self._span(i) for i in range(meta.num_row_groups)]

    def _span(self, index: int) -> tuple[int, int]:
        column = self._where.get("time")
        if column is None:
            return _UNKNOWN
        stats = self.meta.row_group(index).column(column).statistics
        if stats is None or not stats.has_min_max:
            return _UNKNOWN
        return int(stats.min_raw), int(stats.max_raw)

    def ranges(self, name: str) -> list[Range | str] | None:
        """Each row group's (min, max) of column ``name``, ``"null"`` for a group holding only
        nulls there; None when the file lacks the column (all nulls)."""
        if name not in self._where:
            return None
        with self._lock:
            if name not in self._ranges:
                column = self._where[name]
                self._ranges[name] = [
                    _range(self.meta.row_group(i), column) for i in range(self.meta.num_row_groups)
                ]
            return self._ranges[name]


def _range(group: pq.RowGroupMetaData, column: int) -> Range | str:
    stats = group.column(column).statistics
    if stats is None:
        return None
    if stats.has_null_count and stats.null_count == group.num_rows:
        return "null"
    if not stats.has_min_max:
        return None  # values too long to keep: the writer omits them (it never truncates)
    low, high = stats.min_raw, stats.max_raw
    if not isinstance(low, bytes) or not isinstance(high, bytes):
        return None
    return low, high


class LakeFile:
    """A file of the window: its footer now, an open file only once a row group is read."""

    def __init__(self, lake: EventLake, path: str, provider: str) -> None:
        self.lake, self.path, self.provider = lake, path, provider
        self.footer = _footer(lake, path)
        self._readers: dict[tuple[str, ...], pq.ParquetFile] = {}
        # Pre-buffering coalesces the reads of a row group into few large ones: worth it
        # on S3, ~30% more CPU on a local disk (reading a 10M-event day's user agents).
        self._pre_buffer = not isinstance(lake.fs, pafs.LocalFileSystem)

    def read(
        self, indices: Sequence[int], columns: Sequence[str], *, dictionary: Sequence[str] = ()
    ) -> pa.Table:
        """Row groups ``indices`` (in that order) with ``columns``; the ``dictionary`` ones as
        dictionary arrays (decoded once per distinct value); a column the file lacks reads as
        nulls (files written before it existed)."""
        present = [c for c in columns if c in self.footer.names]
        encoded = tuple(c for c in dictionary if c in present)
        reader = self._readers.get(encoded)
        if reader is None:
            source = self.lake.fs.open_input_file(self.path)
            reader = pq.ParquetFile(
                source,
                metadata=self.footer.meta,
                read_dictionary=encoded,
                pre_buffer=self._pre_buffer,
            )
            self._readers[encoded] = reader
        # One thread per file (scan.READERS files at once), not per column.
        table = reader.read_row_groups(list(indices), columns=present, use_threads=False)
        for name in columns:
            if name not in self.footer.names:
                field = EVENT_SCHEMA.field(name)
                table = table.append_column(field, pa.nulls(table.num_rows, field.type))
        return table


def lake_files(lake: EventLake, flt: EventFilter) -> list[LakeFile]:
    """The files of the window's partitions. The provider filter picks among the provider
    folders present, so no path is ever built from a caller's text."""
    providers = lake.providers()
    if flt.provider is not None:
        providers = [p for p in providers if p == flt.provider]
    return [
        LakeFile(lake, path, provider)
        for provider in providers
        for day in _days(flt.since, flt.until)
        for path in lake.files(provider, day)
    ]


def _days(since: datetime, until: datetime) -> Iterator[date]:
    day, last = since.astimezone(UTC).date(), until.astimezone(UTC) - timedelta(microseconds=1)
    while day <= last.date():
        yield day
        day += timedelta(days=1)


def candidate_groups(
    files: Sequence[LakeFile], flt: EventFilter, after: Position | None
) -> list[Group]:
    """Row groups whose statistics allow a match: time within the window (and at or before
    the cursor), each equality value within the column's range; latest first."""
    start, stop = to_micros(flt.since), to_micros(flt.until)  # stop is exclusive
    if after is not None:
        stop = min(stop, after.micros + 1)
    wanted = {name: value.encode() for name, value in flt.equalities().items()}
    out = []
    for f, file in enumerate(files):
        footer = file.footer
        possible = np.array([first < stop and last >= start for first, last in footer.spans])
        for name, value in wanted.items():
            ranges = footer.ranges(name)
            if ranges is None:
                possible[:] = False
                break
            possible &= np.array([_may_hold(r, value) for r in ranges], dtype=bool)
        for index in np.flatnonzero(possible):
            first, last = footer.spans[index]
            out.append(Group(f, int(index), footer.rows[index], first, last))
    out.sort(key=lambda g: g.last, reverse=True)
    return out


def _may_hold(stats: Range | str, value: bytes) -> bool:
    """False only when the statistics prove the group lacks ``value`` (Parquet orders strings
    as unsigned bytes: the UTF-8 bytes are compared)."""
    if stats is None:
        return True
    if isinstance(stats, str):  # only nulls
        return False
    low, high = stats
    return low <= value <= high


_footers: OrderedDict[str, Footer] = OrderedDict()
_footers_lock = threading.Lock()


def _footer(lake: EventLake, path: str) -> Footer:
    with _footers_lock:
        kept = _footers.get(path)
        if kept is not None:
            _footers.move_to_end(path)
            return kept
    footer = Footer(pq.read_metadata(path, filesystem=lake.fs))
    with _footers_lock:
        _footers[path] = footer
        while len(_footers) > _FOOTERS_KEPT:
            _footers.popitem(last=False)
    return footer
