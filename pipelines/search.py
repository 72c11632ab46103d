"""Event search over the lake: the newest events matching a filter, one page at a time.

``GET /v1/events`` and ``functrail events search`` call ``search_events``. What keeps a
filtered query over a 10M-event day well under a second (``bench/event_search.py``):

- **partitions**: only the ``provider=/date=`` folders of the window are listed and opened;
  the provider filter picks among the folders present (a path is never built from input);
- **row-group statistics**: each file's footer (kept per path: lake files never change) gives
  every row group's time range and the min/max of each column; a row group whose range cannot
  hold the window, the cursor or an equality filter's value is never read. Files are sorted by
  (account, principal, time), so an account or principal filter skips most of a day;
- **projection and order**: the row groups left are read newest first (by their latest time),
  each with only ``time`` and the filtered columns, and the scan stops once a page of matches
  is newer than every row group still unread; only the page's own rows are then read whole,
  and ``raw`` only when asked for.

Order is newest first with ties broken by ``id`` then ``provider`` (descending), so a
``Position`` (the sort key of a page's last event) resumes exactly where the page ended.
Filter values are compared as data (equality, a literal substring, parsed networks): nothing
from a caller is interpreted as a pattern, an expression or a path.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.events import EVENT_SCHEMA
from pipelines.lake import EventLake

MAX_SPAN: Final = timedelta(days=31)
"""The widest window one search may cover (a month of partitions)."""
EQUALITY_FIELDS: Final = (
    "account",
    "principal",
    "principal_type",
    "service",
    "action",
    "raw_action",
    "resource",
    "outcome",
    "error_code",
)
"""Event columns filtered by exact value."""
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_FOOTERS_KEPT: Final = 4096

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class EventFilter:
    """What a search matches: ``since <= time < until`` and every filter given (None: any).

    ``source_ip`` matches addresses inside the network (an address is a /32 or /128);
    ``user_agent`` matches a substring, ignoring case.
    """

    since: datetime
    until: datetime
    provider: str | None = None
    account: str | None = None
    principal: str | None = None
    principal_type: str | None = None
    service: str | None = None
    action: str | None = None
    raw_action: str | None = None
    resource: str | None = None
    outcome: str | None = None
    error_code: str | None = None
    source_ip: Network | None = None
    user_agent: str | None = None

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ValueError("since and until must be timezone-aware")
        if self.until - self.since > MAX_SPAN:
            raise ValueError(f"the window is over {MAX_SPAN.days} days")

    def equalities(self) -> dict[str, str]:
        """The equality filters that are set, by column."""
        values = {name: getattr(self, name) for name in EQUALITY_FIELDS}
        return {name: value for name, value in values.items() if value is not None}

    def columns(self) -> list[str]:
        """The columns the filters read (besides ``time``)."""
        named = [*self.equalities()]
        if self.source_ip is not None:
            named.append("source_ip")
        if self.user_agent is not None:
            named.append("user_agent")
        return named


FILTER_FIELDS: Final = tuple(f.name for f in fields(EventFilter))


@dataclass(frozen=True, order=True)
class Position:
    """The sort key of an event: where a page ended, and the next one starts (exclusive)."""

    micros: int
    """``time`` in microseconds since the epoch (UTC)"""
    id: str
    provider: str


@dataclass(frozen=True)
class EventPage:
    events: pa.Table
    """the page, newest first: the event columns (``raw`` only when asked), provider included"""
    next: Position | None
    """where the next page starts; None when this one is the last"""


@dataclass(frozen=True)
class _Group:
    """One row group of one file that may hold matches."""

    file: int
    index: int
    first: int
    last: int
    """min and max ``time`` (microseconds)"""


class _Candidates:
    """The newest ``need`` matches seen so far (plus ties), as (micros, group, row) arrays.

    Rows at exactly the cursor's time are kept apart: without their ids (not read in the first
    phase) it is not yet known which of them come after the cursor.
    """

    def __init__(self, need: int, bound: int | None) -> None:
        self.need, self.bound = need, bound
        self.dropped = False
        """whether a match was let go (so the page is short only if none were repeats)"""
        self.micros = np.empty(0, np.int64)
        self.group = np.empty(0, np.int64)
        self.row = np.empty(0, np.int64)

    def add(self, micros: np.ndarray, group: int, rows: np.ndarray) -> None:
        self.micros = np.concatenate([self.micros, micros])
        self.group = np.concatenate([self.group, np.full(len(rows), group, np.int64)])
        self.row = np.concatenate([self.row, rows])
        if len(self.micros) > 4 * self.need + 1024:
            self.trim()

    def threshold(self) -> int | None:
        """The ``need``-th newest time strictly before the cursor, once that many are held."""
        older = self.micros if self.bound is None else self.micros[self.micros < self.bound]
        if len(older) < self.need:
            return None
        return int(np.partition(older, len(older) - self.need)[len(older) - self.need])

    def trim(self) -> None:
        floor = self.threshold()
        if floor is None:
            return
        keep = self.micros >= floor
        if keep.all():
            return
        self.dropped = True
        self.micros, self.group, self.row = self.micros[keep], self.group[keep], self.row[keep]


def search_events(
    lake: EventLake,
    flt: EventFilter,
    *,
    limit: int,
    after: Position | None = None,
    include_raw: bool = False,
) -> EventPage:
    """The ``limit`` newest events matching ``flt`` that sort after ``after``, and where the
    next page starts."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    files = _files(lake, flt)
    wanted = [name for name in EVENT_SCHEMA.names if include_raw or name != "raw"]
    need = limit + 1  # one more than the page: is there a next page?
    while True:
        rows, complete = _scan(files, flt, after, need, wanted)
        page = _page(rows, after, need)
        if page.num_rows >= need or complete:
            break
        need *= 2  # repeated ids (a crash inside compaction) shortened the page: read further
    if page.num_rows > limit:
        last = page.slice(limit - 1, 1).to_pylist()[0]
        nxt = Position(_micros(last["time"]), last["id"], last["provider"])
        page = page.slice(0, limit)
    else:
        nxt = None
    return EventPage(page, nxt)


# -- phase 1: which rows ------------------------------------------------------------------------


class _File:
    """A lake file of the window: its footer now, the open file only once a group is read."""

    def __init__(self, lake: EventLake, path: str, provider: str) -> None:
        self.lake, self.path, self.provider = lake, path, provider
        self.meta = _footer(lake, path)
        self._parquet: pq.ParquetFile | None = None

    @property
    def parquet(self) -> pq.ParquetFile:
        if self._parquet is None:
            source = self.lake.fs.open_input_file(self.path)
            self._parquet = pq.ParquetFile(source, metadata=self.meta)
        return self._parquet


def _files(lake: EventLake, flt: EventFilter) -> list[_File]:
    """The files of the window's partitions (only the providers present in the lake)."""
    providers = lake.providers()
    if flt.provider is not None:
        providers = [p for p in providers if p == flt.provider]
    found = []
    for provider in providers:
        for day in _days(flt.since, flt.until):
            for path in lake.files(provider, day):
                found.append(_File(lake, path, provider))
    return found


def _days(since: datetime, until: datetime) -> Iterator[date]:
    day, last = since.astimezone(UTC).date(), (until.astimezone(UTC) - timedelta(microseconds=1))
    while day <= last.date():
        yield day
        day += timedelta(days=1)


def _scan(
    files: list[_File], flt: EventFilter, after: Position | None, need: int, wanted: list[str]
) -> tuple[pa.Table, bool]:
    """The candidate rows with the ``wanted`` columns; and whether they are every match (no
    row group left unread, no match let go)."""
    groups = _groups(files, flt, after)
    held = _Candidates(need, after.micros if after is not None else None)
    columns = ["time", *flt.columns()]
    for g, group in enumerate(groups):
        floor = held.threshold()
        if floor is not None and group.last < floor:
            held.dropped = True  # unread groups may hold matches
            break
        table = _read(files[group.file], group.index, columns)
        micros, rows = _matches(table, flt, after)
        older = micros if after is None else micros[micros < after.micros]
        if len(older) > need:  # only this group's newest ``need`` (and ties) can make the page
            cut = np.partition(older, len(older) - need)[len(older) - need]
            keep = micros >= cut
            micros, rows = micros[keep], rows[keep]
            held.dropped = True
        held.add(micros, g, rows)
    held.trim()
    return _rows(files, groups, held, wanted), not held.dropped


def _groups(files: list[_File], flt: EventFilter, after: Position | None) -> list[_Group]:
    """Row groups whose statistics allow a match, latest first."""
    start = _to_micros(flt.since)
    stop = _to_micros(flt.until)  # exclusive
    if after is not None:
        stop = min(stop, after.micros + 1)
    wanted = {name: value.encode() for name, value in flt.equalities().items()}
    out = []
    for f, file in enumerate(files):
        meta = file.meta
        where = {meta.schema.column(i).name: i for i in range(meta.num_columns)}
        if "time" not in where:
            continue
        for index in range(meta.num_row_groups):
            group = meta.row_group(index)
            span = _time_span(group, where["time"])
            if span is None:
                continue
            first, last = span
            if last < start or first >= stop:
                continue
            if not all(_may_hold(group, where.get(name), value) for name, value in wanted.items()):
                continue
            out.append(_Group(f, index, first, last))
    out.sort(key=lambda g: g.last, reverse=True)
    return out


def _time_span(group: pq.RowGroupMetaData, column: int) -> tuple[int, int] | None:
    """(min, max) of ``time`` in microseconds; None for a group without rows."""
    if group.num_rows == 0:
        return None
    stats = group.column(column).statistics
    if stats is None or not stats.has_min_max:
        return (np.iinfo(np.int64).min, np.iinfo(np.int64).max)  # unknown: always read
    return int(stats.min_raw), int(stats.max_raw)


def _may_hold(group: pq.RowGroupMetaData, column: int | None, value: bytes) -> bool:
    """False only when the statistics prove no row of the group has ``value``.

    Parquet orders strings as unsigned bytes, so the UTF-8 bytes are compared. Statistics of
    values too long to keep are omitted by the writer (never truncated), and read as "may".
    """
    if column is None:
        return False  # a file without the column holds only nulls there
    stats = group.column(column).statistics
    if stats is None:
        return True
    if stats.has_null_count and stats.null_count == group.num_rows:
        return False
    if not stats.has_min_max:
        return True
    low, high = stats.min_raw, stats.max_raw
    if not isinstance(low, bytes) or not isinstance(high, bytes):
        return True
    return low <= value <= high


def _read(file: _File, index: int, columns: Sequence[str]) -> pa.Table:
    """Columns of one row group; a column the file lacks reads as nulls (older files)."""
    names = set(file.meta.schema.names)
    present = [c for c in columns if c in names]
    table = file.parquet.read_row_group(index, columns=present, use_threads=False)
    for name in columns:
        if name not in names:
            table = table.append_column(
                EVENT_SCHEMA.field(name), pa.nulls(table.num_rows, EVENT_SCHEMA.field(name).type)
            )
    return table


def _matches(
    table: pa.Table, flt: EventFilter, after: Position | None
) -> tuple[np.ndarray, np.ndarray]:
    """(micros, row numbers) of the rows matching ``flt`` at or before the cursor's time."""
    micros = table["time"].combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
    keep = (micros >= _to_micros(flt.since)) & (micros < _to_micros(flt.until))
    if after is not None:
        keep &= micros <= after.micros
    for name, value in flt.equalities().items():
        if keep.any():
            keep &= _true(pc.equal(table[name], pa.scalar(value, pa.string())))
    if flt.user_agent is not None and keep.any():
        hit = pc.match_substring(table["user_agent"], pattern=flt.user_agent, ignore_case=True)
        keep &= _true(hit)
    if flt.source_ip is not None and keep.any():
        keep &= _in_network(table["source_ip"], flt.source_ip)
    rows = np.flatnonzero(keep)
    return micros[rows], rows


def _true(mask: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean mask as numpy, null (no value to compare) read as False."""
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False).astype(bool)


def _in_network(values: pa.ChunkedArray, network: Network) -> np.ndarray:
    """Whether each value is an address inside ``network``.

    Addresses repeat a lot within a row group, so each distinct text is parsed once (with
    ``ipaddress``, which also reads IPv6 in any of its spellings); names such as
    ``lambda.amazonaws.com`` (AWS services calling) and nulls are never inside.
    """
    encoded = pc.dictionary_encode(values.combine_chunks())
    inside = np.array([_address_in(text, network) for text in encoded.dictionary.to_pylist()])
    if not len(inside):
        return np.zeros(len(values), bool)
    indices = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
    found = inside[indices]
    if encoded.indices.null_count:
        found &= encoded.indices.is_valid().to_numpy(zero_copy_only=False)
    return np.asarray(found, bool)


def _address_in(text: str | None, network: Network) -> bool:
    if text is None:
        return False
    try:
        return ipaddress.ip_address(text) in network
    except ValueError:
        return False


# -- phase 2: the rows of the page --------------------------------------------------------------


def _rows(
    files: list[_File], groups: list[_Group], held: _Candidates, wanted: list[str]
) -> pa.Table:
    """The candidates' rows with the ``wanted`` event columns (``provider`` from the path)."""
    schema = pa.schema([EVENT_SCHEMA.field(name) for name in wanted])
    columns = [name for name in wanted if name != "provider"]
    parts = []
    for g in np.unique(held.group):
        group = groups[int(g)]
        file = files[group.file]
        rows = held.row[held.group == g]
        table = _read(file, group.index, columns).take(pa.array(rows))
        table = table.append_column("provider", pa.array([file.provider] * len(rows), pa.string()))
        parts.append(table.select(wanted).cast(schema))
    if not parts:
        return schema.empty_table()
    return pa.concat_tables(parts)


def _page(rows: pa.Table, after: Position | None, need: int) -> pa.Table:
    """Candidates after the cursor, newest first, each id once, at most ``need``."""
    if after is not None and rows.num_rows:
        micros = rows["time"].cast(pa.int64())
        before = pc.less(micros, after.micros)
        tied = pc.and_(
            pc.equal(micros, after.micros),
            pc.or_(
                pc.less(rows["id"], after.id),
                pc.and_(pc.equal(rows["id"], after.id), pc.less(rows["provider"], after.provider)),
            ),
        )
        rows = rows.filter(pc.or_(before, tied))
    order = pc.sort_indices(
        rows,
        sort_keys=[("time", "descending"), ("id", "descending"), ("provider", "descending")],
    )
    rows = rows.take(order)
    if rows.num_rows > 1:
        same = pc.and_(
            pc.equal(rows["id"].slice(1), rows["id"].slice(0, rows.num_rows - 1)),
            pc.equal(rows["provider"].slice(1), rows["provider"].slice(0, rows.num_rows - 1)),
        )
        first = np.concatenate([[True], ~_true(same)])
        rows = rows.filter(pa.array(first))
    return rows.slice(0, need)


# -- helpers ------------------------------------------------------------------------------------


_footers: OrderedDict[str, pq.FileMetaData] = OrderedDict()
_footers_lock = threading.Lock()


def _footer(lake: EventLake, path: str) -> pq.FileMetaData:
    """A lake file's footer, read once per process: lake files are written whole and never
    changed (compaction writes new ones), so a kept footer stays true for its path."""
    with _footers_lock:
        meta = _footers.get(path)
        if meta is not None:
            _footers.move_to_end(path)
            return meta
    meta = pq.read_metadata(path, filesystem=lake.fs)
    with _footers_lock:
        _footers[path] = meta
        while len(_footers) > _FOOTERS_KEPT:
            _footers.popitem(last=False)
    return meta


def _to_micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _micros(moment: datetime) -> int:
    return _to_micros(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
