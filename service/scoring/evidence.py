"""Evidence of an anomaly alert read back from the lake: the events of its window and series.

Volume series span every partition, and a principal-window cut by time slices spans several
slices, so neither has its window's events in memory when its alert is built. The lake has
them: the window's ``time`` and ``id`` of the series (filtered by row-group statistics) give
the first and last time and the first ``evidence_ids`` ids; whole rows only for the sample.
Equal to ``build_alerts`` over the window's events (ordered by time, then id).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from detectors.alert import EVIDENCE_SAMPLE_LIMIT, Alert
from detectors.anomaly.alerts import candidate_alert
from pipelines.features.principal import WINDOWS
from pipelines.lake import DATASET_SCHEMA, EventLake
from service.scoring.partitions import Partition, partition_filter, read_partition


def lake_alert(lake_root: str, row: Mapping[Any, Any], window: str, evidence_ids: int) -> Alert:
    """The alert of one candidate (volume: its series; else its principal) in its window."""
    lake = EventLake(lake_root)
    start = pd.Timestamp(row["window"]).to_pydatetime()
    end = (pd.Timestamp(start) + pd.Timedelta(WINDOWS[window])).to_pydatetime()
    account = str(row["account"] or "") or None
    part = Partition(lake_root, str(row["provider"]), (account,), start, end, 0)
    if row["detector"] == "volume-drop":
        series = ds.field("id") == ""  # what is missing has no events
    elif row["detector"] == "denial-of-wallet":
        series = ds.field("category") == "invocation"
        if row["kind"] == "function":
            members = list(row.get("members") or [str(row["key"])])
            series = series & ds.field("resource").isin(members)
    elif row["detector"] == "volume":
        key = str(row["key"])
        if row["kind"] == "function":
            series = (ds.field("resource") == key) & (ds.field("category") == "invocation")
        else:
            column = "principal" if row["kind"] == "principal" else "action"
            series = ds.field(column) == key
    else:
        series = ds.field("principal") == str(row["principal"] or "")
    first, last, ids = _window_events(lake, part, series, evidence_ids)
    sample = read_partition(lake, part, ids=ids[:EVIDENCE_SAMPLE_LIMIT])
    return candidate_alert(row, ids, sample, first or start, last or start)


def _window_events(
    lake: EventLake, part: Partition, series: ds.Expression, limit: int
) -> tuple[datetime | None, datetime | None, list[str]]:
    """First and last event time of the series in the window, and its first ``limit`` ids by
    (time, id), each once. Streamed: two columns, one batch and the top ``limit`` at a time (a
    flood's principal-hour is millions of events)."""
    dataset = lake.dataset()
    if dataset is None:
        return None, None, []
    kind = DATASET_SCHEMA.field("time").type
    first: datetime | None = None
    last: datetime | None = None
    top = pa.table({"id": pa.array([], pa.string()), "time": pa.array([], kind)})
    scanner = dataset.scanner(
        columns=["time", "id"],
        filter=partition_filter(part) & series,
        batch_readahead=2,
        fragment_readahead=2,
    )
    for batch in scanner.to_batches():
        if not batch.num_rows:
            continue
        times = batch.column("time").cast(kind)
        low, high = (v.as_py() for v in pc.min_max(times).values())
        first = low if first is None else min(first, low)
        last = high if last is None else max(last, high)
        both = pa.concat_tables([top, pa.table({"id": batch.column("id"), "time": times})])
        once = both.group_by("id", use_threads=False).aggregate([("time", "min")])
        once = pa.table({"id": once["id"], "time": once["time_min"]})
        order = pc.sort_indices(once, [("time", "ascending"), ("id", "ascending")])
        top = once.take(order[:limit])
    return first, last, [str(i) for i in top.column("id").to_pylist()]
