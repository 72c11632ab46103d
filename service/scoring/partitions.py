"""Split one day of the lake into partitions, each small enough to detect in bounded memory.

An account is the natural unit (a principal belongs to one account), and small accounts are
packed together so a day becomes a few scans, not one per account. An account larger than
``part_events`` is cut into ranges of its principals (``Partition.principals``), and a range
still larger (one busy principal: a service principal can be half of a day) into time slices
(``Partition.slices``: hours, and minutes inside an hour larger than ``part_events``), which
one task detects in time order. What a detector computes across ranges or slices is settled
exactly: rules by ``service.scoring.merge``, the anomaly guard and volume series by
``service.scoring.anomalies``, a principal-hour cut by minute from its pieces' partial
aggregates (``service.scoring.detect``). So detection memory is bounded by ``part_events``
whatever the skew (with a ``day``-window model, by a principal's day: never sliced).
Planning streams four columns; a partition is read without ``raw`` (two thirds of an event's
memory), which ``RawFetcher`` fetches for the few rows that need it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipelines.events import EVENT_COLUMNS, EVENT_SCHEMA, events_from_arrow
from pipelines.lake import DATASET_SCHEMA, EventLake
from service.scoring import DEFAULT_PART_EVENTS

_NARROW = [name for name in EVENT_COLUMNS if name != "raw"]
_SCAN = {"batch_readahead": 2, "fragment_readahead": 2}
"""Arrow's default readahead decodes up to 64 batches ahead: hundreds of MB of ``raw``."""


@dataclass(frozen=True)
class Partition:
    """One unit of detection work: some accounts of one provider over ``[start, end)``.

    Plain values only, so it pickles to a Dask worker that opens the lake by ``lake_root``.
    ``None`` in ``accounts`` stands for events with no account. ``principals`` is set when one
    oversized account was split: ``(low, high)``, low inclusive, high exclusive, ``None`` open
    (the first range also holds events with no principal). ``slices``: the times (window
    starts, inside ``(start, end)``) where a range too large for one read is cut; detection
    reads and runs one slice after another.
    """

    lake_root: str
    provider: str
    accounts: tuple[str | None, ...]
    start: datetime
    end: datetime
    events: int
    principals: tuple[str | None, str | None] | None = None
    slices: tuple[datetime, ...] = ()

    @property
    def split(self) -> bool:
        """True when this holds part of an account (a principal range), or of its time."""
        return self.principals is not None or bool(self.slices)

    def time_slices(self) -> list[Partition]:
        """This partition as one partition per time slice, in time order (itself if unsliced)."""
        bounds = [self.start, *self.slices, self.end]
        return [
            replace(self, start=low, end=high, slices=(), events=0)
            for low, high in itertools.pairwise(bounds)
        ]


def _window(start: datetime, end: datetime) -> ds.Expression:
    kind = DATASET_SCHEMA.field("time").type
    days = (ds.field("date") >= pa.scalar(start.date(), pa.date32())) & (
        ds.field("date") <= pa.scalar(end.date(), pa.date32())
    )
    return (
        days
        & (ds.field("time") >= pa.scalar(start, kind))
        & (ds.field("time") < pa.scalar(end, kind))
    )


def partition_filter(part: Partition) -> ds.Expression:
    """The rows of ``part`` as a dataset filter (row-group statistics prune the rest)."""
    named = [a for a in part.accounts if a is not None]
    accounts = ds.field("account").isin(named)
    if None in part.accounts:
        accounts = accounts | ds.field("account").is_null()
    expr = _window(part.start, part.end) & (ds.field("provider") == part.provider) & accounts
    if part.principals is not None:
        low, high = part.principals
        principal = ds.field("principal")
        if high is not None:
            expr = expr & ((principal < high) | principal.is_null())
        if low is not None:
            expr = expr & (principal >= low)
    return expr


def _counts(dataset: ds.Dataset, start: datetime, end: datetime, unit: str) -> pa.Table:
    """Events per (provider, account, principal, window start), one batch at a time."""
    keys = ["provider", "account", "principal", "at"]
    partial: list[pa.Table] = []
    scanner = dataset.scanner(columns=[*keys[:3], "time"], filter=_window(start, end), **_SCAN)
    for batch in scanner.to_batches():
        if batch.num_rows:
            at = pc.floor_temporal(batch.column("time"), 1, unit)
            table = pa.Table.from_arrays([*batch.columns[:3], at], names=keys)
            partial.append(table.group_by(keys).aggregate([([], "count_all")]))
    if not partial:
        return pa.table({**{k: [] for k in keys}, "n": []})
    merged = pa.concat_tables(partial).group_by(keys).aggregate([("count_all", "sum")])
    return merged.rename_columns([*keys, "n"]).sort_by(
        [(k, "ascending") for k in keys]  # nulls sort last; the split below puts them first
    )


def plan_partitions(
    lake: EventLake,
    lake_root: str,
    start: datetime,
    end: datetime,
    *,
    part_events: int = DEFAULT_PART_EVENTS,
    split_accounts: bool = True,
    slice_window: str | None = "hour",
) -> list[Partition]:
    """Partitions covering every event in ``[start, end)``, in a stable order.

    ``split_accounts=False`` keeps every account whole however large. ``slice_window``:
    ``minute`` (rules, or an hourly model) cuts slices at hours and inside an hour larger than
    ``part_events``; ``hour`` at hours only; ``day`` and ``None`` never slice by time.
    """
    dataset = lake.dataset()
    if dataset is None:
        return []
    unit = "day" if slice_window in (None, "day") else "hour"
    # Sizes only pack accounts into groups: a duplicate id left by a crash may count twice.
    counts = _counts(dataset, start, end, unit)
    if not counts.num_rows:
        return []
    per_principal: dict[tuple[str, str | None], dict[str | None, dict[datetime, int]]] = {}
    for provider, account, principal, at, n in zip(
        *(counts[c].to_pylist() for c in ("provider", "account", "principal", "at", "n")),
        strict=True,
    ):
        hours = per_principal.setdefault((provider, account), {}).setdefault(principal, {})
        hours[at.astimezone(UTC)] = n
    parts: list[Partition] = []
    for provider in sorted({p for p, _ in per_principal}):
        group: list[str | None] = []
        size = 0
        for (prov, account), principals in per_principal.items():
            if prov != provider:
                continue
            totals = [(p, sum(h.values())) for p, h in principals.items()]
            n = sum(count for _, count in totals)
            if split_accounts and n > part_events:
                for bounds, events in _principal_ranges(totals, part_events):
                    windows = _range_windows(principals, bounds)
                    if slice_window == "minute":
                        key = (provider, account, bounds)
                        windows = _by_minute(dataset, key, windows, part_events)
                    cuts = _time_cuts(windows, part_events, start, end, slice_window)
                    whole = bounds == (None, None)
                    parts.append(
                        Partition(
                            lake_root,
                            provider,
                            (account,),
                            start,
                            end,
                            events,
                            None if whole else bounds,
                            cuts,
                        )
                    )
                continue
            if group and size + n > part_events:
                parts.append(Partition(lake_root, provider, tuple(group), start, end, size))
                group, size = [], 0
            group.append(account)
            size += n
        if group:
            parts.append(Partition(lake_root, provider, tuple(group), start, end, size))
    return parts


def _range_windows(
    principals: Mapping[str | None, Mapping[datetime, int]], bounds: tuple[str | None, str | None]
) -> dict[datetime, int]:
    """Events per window start of the principals inside ``bounds`` (nulls in the first range)."""
    per_window: dict[datetime, int] = {}
    for principal, windows in principals.items():
        if _in_range(principal, bounds):
            for at, n in windows.items():
                per_window[at] = per_window.get(at, 0) + n
    return per_window


def _by_minute(
    dataset: ds.Dataset,
    key: tuple[str, str | None, tuple[str | None, str | None]],
    per_hour: dict[datetime, int],
    part_events: int,
) -> dict[datetime, int]:
    """``per_hour`` with each hour over ``part_events`` replaced by its minutes' counts (one
    scan of that hour's ``time`` column), so rules alone can cut inside a flood's hour."""
    provider, account, bounds = key
    out: dict[datetime, int] = {}
    for at, n in per_hour.items():
        if n <= part_events:
            out[at] = n
            continue
        hour = Partition("", provider, (account,), at, at + timedelta(hours=1), n, bounds)
        times = dataset.to_table(columns=["time"], filter=partition_filter(hour), **_SCAN)
        minutes = pc.floor_temporal(times.column("time"), 1, "minute")
        counts = pa.table({"at": minutes}).group_by("at").aggregate([([], "count_all")])
        for minute, count in zip(
            counts["at"].to_pylist(), counts["count_all"].to_pylist(), strict=True
        ):
            out[minute.astimezone(UTC)] = count
    return out


def _time_cuts(
    per_window: Mapping[datetime, int],
    part_events: int,
    start: datetime,
    end: datetime,
    slice_window: str | None,
) -> tuple[datetime, ...]:
    """Window starts where a principal range of more than ``part_events`` is cut into time
    slices of <= ``part_events`` (consecutive windows packed; one window larger than that
    stays one slice). None when the range fits, or ``slice_window`` is None."""
    if slice_window is None or sum(per_window.values()) <= part_events:
        return ()
    cuts: list[datetime] = []
    size = 0
    for at in sorted(per_window):
        n = per_window[at]
        if size and size + n > part_events and start < at < end:
            cuts.append(at)
            size = 0
        size += n
    return tuple(cuts)


def _principal_ranges(
    principals: list[tuple[str | None, int]], part_events: int
) -> list[tuple[tuple[str | None, str | None], int]]:
    """Cut an account's principals (sorted, nulls last) into ranges of <= part_events events.

    A single principal larger than ``part_events`` gets a range of its own (then cut by time).
    One range ``(None, None)`` when the account cannot be cut by principal at all.
    """
    named = [(p, n) for p, n in principals if p is not None]
    unnamed = sum(n for p, n in principals if p is None)
    cuts: list[str] = []
    size = unnamed  # events with no principal ride in the first range
    for principal, n in named:
        if size and size + n > part_events:
            cuts.append(principal)
            size = 0
        size += n
    bounds: list[str | None] = [None, *cuts, None]
    ranges: list[tuple[tuple[str | None, str | None], int]] = []
    for low, high in itertools.pairwise(bounds):
        events = sum(n for p, n in principals if _in_range(p, (low, high)))
        ranges.append(((low, high), events))
    return ranges


def _in_range(principal: str | None, bounds: tuple[str | None, str | None]) -> bool:
    """Whether a principal falls in a range as ``partition_filter`` reads it: low inclusive,
    high exclusive, ``None`` open; no principal belongs to the first range."""
    low, high = bounds
    if principal is None:
        return low is None
    return (low is None or principal >= low) and (high is None or principal < high)


def read_partition(
    lake: EventLake, part: Partition, *, ids: Sequence[str] | None = None
) -> pd.DataFrame:
    """The partition's events, one row per id, ordered by (time, id) so every run sees one order.

    ``raw`` is left null (read it with ``RawFetcher`` for the rows that need it), except when
    only the events with ``ids`` are asked for: then they come whole.
    """
    dataset = lake.dataset()
    if dataset is None:
        return events_from_arrow(DATASET_SCHEMA.empty_table())
    expr = partition_filter(part)
    if ids is not None:
        expr = expr & ds.field("id").isin(list(dict.fromkeys(ids)))
    columns = list(EVENT_COLUMNS) if ids is not None else _NARROW
    scanned = dataset.to_table(columns=columns, filter=expr, **_SCAN)
    schema, arrays = scanned.schema, list(scanned.columns)
    del scanned
    table = _sorted_once(arrays, schema)
    if ids is None:
        raw = pa.nulls(table.num_rows, pa.string())
        table = table.append_column(EVENT_SCHEMA.field("raw"), raw)
    return events_from_arrow(table)


class RawFetcher:
    """``raw`` of chosen events of one partition, read from the lake by id when asked.

    Each call decodes the ``raw`` column of the partition's row groups once (streamed, not held),
    so callers batch their ids: the rule engine asks once for the rows its prefilter left open
    and once for the evidence of its alerts.
    """

    def __init__(self, lake: EventLake, part: Partition) -> None:
        self.lake, self.part = lake, part
        self.calls = 0

    def __call__(self, ids: Sequence[str]) -> Mapping[str, str | None]:
        wanted = list(dict.fromkeys(ids))
        dataset = self.lake.dataset()
        if dataset is None or not wanted:
            return {}
        self.calls += 1
        expr = partition_filter(self.part) & ds.field("id").isin(wanted)
        table = dataset.to_table(columns=["id", "raw"], filter=expr, **_SCAN)
        return dict(zip(table["id"].to_pylist(), table["raw"].to_pylist(), strict=True))


def _sorted_once(columns: list[pa.ChunkedArray], schema: pa.Schema) -> pa.Table:
    """Rows by (time, id), the first copy of each id only (a crash during compaction can leave
    an id twice on disk). Sorted column by column, each old column freed as its copy is made
    (the caller hands over its only references), so the peak is one table plus one column, not
    two tables: the largest allocation of a partition."""
    keys = pa.table({"time": columns[schema.get_field_index("time")],
                     "id": columns[schema.get_field_index("id")]})  # fmt: skip
    if not keys.num_rows:
        return pa.Table.from_arrays(columns, schema=schema)
    order = pc.sort_indices(keys, [("time", "ascending"), ("id", "ascending")])
    firsts = _firsts(pa.table({"id": keys.column("id").take(order)}))
    if len(firsts) < keys.num_rows:
        order = order.take(firsts.take(pc.sort_indices(firsts)))
    del keys
    for i in range(len(columns)):
        columns[i] = columns[i].take(order)
    return pa.Table.from_arrays(columns, schema=schema)


def _firsts(table: pa.Table) -> pa.Array:
    """Row positions of the first occurrence of each id."""
    indexed = pa.table({"id": table["id"], "i": pa.array(range(table.num_rows), pa.int64())})
    return indexed.group_by("id", use_threads=False).aggregate([("i", "min")])["i_min"]
