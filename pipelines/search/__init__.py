"""Event search over the lake: the newest events matching a filter, one page at a time.

``GET /v1/events`` and ``functrail events search`` call ``search_events``. What keeps a
filtered query over a 10M-event day well under a second (``bench/event_search.py``):

- **partitions** (``files.py``): only the ``provider=/date=`` folders of the window are
  listed; the provider filter picks among the folders present;
- **row-group statistics** (``files.py``): each file's footer, kept per path, gives every row
  group's time range and each column's min/max; a group that cannot hold the window, the
  cursor or an equality filter's value is never read. Files are sorted by (account,
  principal, time), so an account or principal filter skips most of a day;
- **projection, dictionaries and order** (``scan.py``, ``match.py``): the groups left are read
  latest first with only ``time`` and the filtered columns, strings as dictionaries (each
  distinct value tested once), until a page of matches is newer than every group unread;
  then only the page's rows are read whole, ``raw`` only when asked for.

Order is newest first, ties broken by ``id`` then ``provider`` (descending), so a
``Position`` (the sort key of a page's last event) resumes exactly where a page ended.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.events import EVENT_SCHEMA
from pipelines.lake import EventLake
from pipelines.search.files import candidate_groups, lake_files
from pipelines.search.match import Matcher
from pipelines.search.model import (
    EQUALITY_FIELDS,
    MAX_SPAN,
    EventFilter,
    EventPage,
    Network,
    Position,
    to_micros,
)
from pipelines.search.scan import Candidates, fetch, find

__all__ = [
    "EQUALITY_FIELDS",
    "MAX_SPAN",
    "EventFilter",
    "EventPage",
    "Network",
    "Position",
    "search_events",
]


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
    files = lake_files(lake, flt)
    groups = candidate_groups(files, flt, after)
    matcher = Matcher(flt, after)
    wanted = [name for name in EVENT_SCHEMA.names if include_raw or name != "raw"]
    need = limit + 1  # one more than the page: is there a next page?
    while True:
        held = find(files, groups, matcher, Candidates(need, after.micros if after else None))
        page = _newest(fetch(files, groups, held, wanted), after, need)
        if page.num_rows >= need or not held.dropped:
            break
        need *= 2  # ids repeated on disk (a crash inside compaction) shortened it: read on
    if page.num_rows <= limit:
        return EventPage(page, None)
    last = page.slice(limit - 1, 1).to_pylist()[0]
    return EventPage(
        page.slice(0, limit), Position(to_micros(last["time"]), last["id"], last["provider"])
    )


def _newest(rows: pa.Table, after: Position | None, need: int) -> pa.Table:
    """Candidates after the cursor, newest first, each (provider, id) once, at most ``need``."""
    if after is not None and rows.num_rows:
        micros = rows["time"].cast(pa.int64())
        tied = pc.and_(
            pc.equal(micros, after.micros),
            pc.or_(
                pc.less(rows["id"], after.id),
                pc.and_(pc.equal(rows["id"], after.id), pc.less(rows["provider"], after.provider)),
            ),
        )
        rows = rows.filter(pc.or_(pc.less(micros, after.micros), tied))
    order = pc.sort_indices(
        rows, sort_keys=[("time", "descending"), ("id", "descending"), ("provider", "descending")]
    )
    rows = rows.take(order)
    if rows.num_rows > 1:
        head, tail = rows.slice(0, rows.num_rows - 1), rows.slice(1)
        repeat = pc.and_(
            pc.equal(tail["id"], head["id"]), pc.equal(tail["provider"], head["provider"])
        )
        first = np.concatenate(
            [[True], ~pc.fill_null(repeat, False).to_numpy(zero_copy_only=False)]
        )
        rows = rows.filter(pa.array(first))
    return rows.slice(0, need)
