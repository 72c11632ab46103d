"""Split one day of the lake into groups of accounts, each small enough to detect in memory.

Detection needs every event of a principal together (correlations, per-principal features),
and a principal belongs to one account, so an account is the unit; small accounts are packed
together so a day becomes a few scans, not one per account. Planning reads two columns only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipelines.events import events_from_arrow
from pipelines.lake import DATASET_SCHEMA, EventLake

DEFAULT_PART_EVENTS = 250_000
"""Events per group: ~250k events with raw records stay well under 1 GB in pandas."""


@dataclass(frozen=True)
class Partition:
    """One unit of detection work: some accounts of one provider over ``[start, end)``.

    Plain values only, so it pickles to a Dask worker that opens the lake by ``lake_root``.
    ``None`` in ``accounts`` stands for events with no account.
    """

    lake_root: str
    provider: str
    accounts: tuple[str | None, ...]
    start: datetime
    end: datetime
    events: int


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


def plan_partitions(
    lake: EventLake,
    lake_root: str,
    start: datetime,
    end: datetime,
    *,
    part_events: int = DEFAULT_PART_EVENTS,
) -> list[Partition]:
    """Groups of accounts covering every event in ``[start, end)``, in a stable order."""
    dataset = lake.dataset()
    if dataset is None:
        return []
    # Sizes only pack accounts into groups: a duplicate id left by a crash may count twice.
    table = dataset.to_table(columns=["provider", "account"], filter=_window(start, end))
    if not table.num_rows:
        return []
    counts = (
        table.group_by(["provider", "account"])
        .aggregate([([], "count_all")])
        .sort_by([("provider", "ascending"), ("account", "ascending")])
    )
    parts: list[Partition] = []
    for provider in sorted(set(counts["provider"].to_pylist())):
        rows = counts.filter(pc.equal(counts["provider"], provider))
        group: list[str | None] = []
        size = 0
        for account, n in zip(
            rows["account"].to_pylist(), rows["count_all"].to_pylist(), strict=True
        ):
            if group and size + n > part_events:
                parts.append(Partition(lake_root, provider, tuple(group), start, end, size))
                group, size = [], 0
            group.append(account)
            size += n
        if group:
            parts.append(Partition(lake_root, provider, tuple(group), start, end, size))
    return parts


def read_partition(lake: EventLake, part: Partition) -> pd.DataFrame:
    """The partition's events, one row per id, ordered by (time, id) so every run sees one order."""
    dataset = lake.dataset()
    if dataset is None:
        return events_from_arrow(DATASET_SCHEMA.empty_table())
    named = [a for a in part.accounts if a is not None]
    accounts = ds.field("account").isin(named)
    if None in part.accounts:
        accounts = accounts | ds.field("account").is_null()
    expr = _window(part.start, part.end) & (ds.field("provider") == part.provider) & accounts
    table = dataset.to_table(filter=expr)
    table = table.sort_by([("time", "ascending"), ("id", "ascending")])
    if table.num_rows:
        # A crash during compaction can leave an id twice on disk: keep its first copy.
        table = table.filter(pc.is_in(pa.array(range(table.num_rows)), value_set=_firsts(table)))
    return events_from_arrow(table)


def _firsts(table: pa.Table) -> pa.Array:
    """Row positions of the first occurrence of each id."""
    indexed = pa.table({"id": table["id"], "i": pa.array(range(table.num_rows), pa.int64())})
    return indexed.group_by("id", use_threads=False).aggregate([("i", "min")])["i_min"]
