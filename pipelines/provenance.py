"""Provenance rules of the lake: where a record came from, and which of two with one id wins.

The lake kept the first record of an id, so whoever held an ingest key and knew an event id
(LookupEvents shows them) could push a harmless record with that id before the daily ingest,
and the real one was dropped as a duplicate (review finding H1). Now:

- a pulled record (from a source URI) is never hidden by a pushed one (``origin`` ``push:...``):
  pulled and pushed ids are indexed apart, a pull is only a duplicate of a pull or of a push
  with the same content, and a push whose id a different pull later brings is moved out of the
  visible lake (``_conflicts/``);
- two records with one id and different content are a ``Conflict`` (both kept in it), which
  the service turns into an ``event_id_conflict`` alert.

"Same content" is the same record as logged: equal ``raw`` text (its 64-bit digest), else equal
once parsed (the same event from LookupEvents and from S3 may be written differently).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.events import PUSH_ORIGIN

_DIGEST_KEY: Final = "functrail-digest"


def digests(raw: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit digest of each record as logged (uint64; never 0, which means "unknown")."""
    values = raw.to_numpy(zero_copy_only=False)
    out = pd.util.hash_array(values, hash_key=_DIGEST_KEY, categorize=False)
    out[out == 0] = 1
    return out


def is_pushed(origin: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A bool per record: it came from POST /v1/events."""
    pushed = pc.fill_null(pc.starts_with(origin, PUSH_ORIGIN), False)
    return np.asarray(pushed.to_numpy(zero_copy_only=False), dtype=bool)


def same_content(one: str | None, other: str | None) -> bool:
    """Whether two raw records are the same record, written alike or not."""
    if one == other:
        return True
    if one is None or other is None:
        return False
    try:
        return bool(orjson.loads(one) == orjson.loads(other))
    except orjson.JSONDecodeError:
        return False


@dataclass(frozen=True)
class Conflict:
    """Two records with one id and different content: the one the lake keeps, and the other.

    Each is an event record (the event model's fields, ``raw`` as text, ``origin``).
    """

    provider: str
    id: str
    kept: dict[str, Any]
    other: dict[str, Any]


@dataclass
class Stored:
    """What a store did: the rows new to the lake, repeats dropped, conflicts found."""

    written: pa.Table
    duplicates: int = 0
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def count(self) -> int:
        return int(self.written.num_rows)


def first_of_each_id(table: pa.Table) -> tuple[pa.Table, list[Conflict], int]:
    """One row per (provider, id) of a batch: a pulled row before a pushed one, then the first.

    Returns the rows kept, the conflicts among the rows dropped (another record with a kept
    row's id), and how many rows were dropped.
    """
    if table.num_rows < 2:
        return table, [], 0
    pushed = is_pushed(table["origin"])
    keys = pa.table(
        {
            "provider": table["provider"],
            "id": table["id"],
            "rank": pa.array(pushed.astype(np.int64) * table.num_rows + np.arange(table.num_rows)),
        }
    )
    best = keys.group_by(["provider", "id"], use_threads=False).aggregate([("rank", "min")])
    if best.num_rows == table.num_rows:
        return table, [], 0
    kept_rows = np.sort(best["rank_min"].to_numpy() % table.num_rows)
    dropped = np.ones(table.num_rows, dtype=bool)
    dropped[kept_rows] = False
    kept = table.take(pa.array(kept_rows))
    conflicts = _batch_conflicts(kept, table.filter(pa.array(dropped)))
    return kept, conflicts, int(dropped.sum())


def _batch_conflicts(kept: pa.Table, dropped: pa.Table) -> list[Conflict]:
    """Conflicts between dropped rows and the kept row of their id (rare: compared in Python)."""
    by_key = {
        (row["provider"], row["id"]): row
        for row in kept.filter(pc.is_in(kept["id"], value_set=pc.unique(dropped["id"]))).to_pylist()
    }
    out = []
    for row in dropped.to_pylist():
        winner = by_key[(row["provider"], row["id"])]
        if not same_content(winner["raw"], row["raw"]):
            out.append(Conflict(row["provider"], row["id"], winner, row))
    return out


def one_per_id(table: pa.Table) -> pa.Table:
    """One row per id (per provider when the table has it): a pulled row before a pushed one,
    then the first. Stored partitions hold one row an id; a crash during a compaction can
    leave two copies on disk, which reads drop here."""
    keys = ["provider", "id"] if "provider" in table.column_names else ["id"]
    if table.num_rows < 2:
        return table
    pushed = is_pushed(table["origin"]) if "origin" in table.column_names else None
    rank = np.arange(table.num_rows, dtype=np.int64)
    if pushed is not None:
        rank = rank + pushed.astype(np.int64) * table.num_rows
    numbered = table.append_column("__rank", pa.array(rank))
    first = numbered.group_by(keys, use_threads=False).aggregate([("__rank", "min")])
    if first.num_rows == table.num_rows:
        return table
    rows = np.sort(first["__rank_min"].to_numpy() % table.num_rows)
    return table.take(pa.array(rows))
