"""The two phases of a search: find the newest matching rows, then read only those rows.

Phase 1 reads row groups latest first (by their latest time), in waves of 4, 8, ... 64
groups (one ``read_row_groups`` per file of a wave: a call per group cost ~2 ms of overhead on
this machine; the files of a wave read by ``READERS`` threads), each with only ``time`` and
the filtered columns. Between waves it stops once
``need`` matches are newer than the latest time of every group still unread. Phase 2 reads
the rows of those matches with the page's columns, one call per file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from typing import Final

import numpy as np
import pyarrow as pa

from pipelines.events import EVENT_SCHEMA
from pipelines.search.files import Group, LakeFile
from pipelines.search.match import Matcher

FIRST_WAVE: Final = 4
LAST_WAVE: Final = 64
READERS: Final = min(4, os.cpu_count() or 1)
"""files of a wave read at once: Parquet decoding releases the GIL, and one thread per file
kept a 10M-event day's full scans (a user agent, an address range) at ~1 core otherwise"""
_pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="lake-search")


class Candidates:
    """The newest ``need`` matches seen so far (plus ties), as (micros, group, row) arrays.

    Rows at exactly the cursor's time are kept apart: without their ids (not read in the first
    phase) it is not yet known which of them come after the cursor.
    """

    def __init__(self, need: int, bound: int | None) -> None:
        self.need, self.bound = need, bound
        self.micros = np.empty(0, np.int64)
        self.group = np.empty(0, np.int64)
        self.row = np.empty(0, np.int64)
        self.dropped = False
        """whether a possible match was let go (so a short page may not be the last)"""

    def add(self, micros: np.ndarray, group: np.ndarray, row: np.ndarray) -> None:
        older = micros if self.bound is None else micros[micros < self.bound]
        if len(older) > self.need:  # only this batch's newest ``need`` (and ties) can count
            cut = np.partition(older, len(older) - self.need)[len(older) - self.need]
            keep = micros >= cut
            micros, group, row = micros[keep], group[keep], row[keep]
            self.dropped = True
        self.micros = np.concatenate([self.micros, micros])
        self.group = np.concatenate([self.group, group])
        self.row = np.concatenate([self.row, row])
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


def find(
    files: Sequence[LakeFile], groups: Sequence[Group], matcher: Matcher, held: Candidates
) -> Candidates:
    """Phase 1: the newest matches of ``groups`` (latest first) into ``held``."""
    at, size = 0, FIRST_WAVE
    while at < len(groups):
        floor = held.threshold()
        if floor is not None and groups[at].last < floor:
            held.dropped = True  # unread groups may hold (older) matches
            break
        wave = list(range(at, min(at + size, len(groups))))
        if floor is not None:
            wave = [g for g in wave if groups[g].last >= floor]

        def matches(task: tuple[int, list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return _matches(files[task[0]], groups, task[1], matcher)

        for micros, group, row in _pool.map(matches, _by_file(groups, wave)):
            held.add(micros, group, row)
        at += size
        size = min(size * 2, LAST_WAVE)
    held.trim()
    return held


def _matches(
    file: LakeFile, groups: Sequence[Group], members: list[int], matcher: Matcher
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(micros, group number, row in group) of the matches in ``members`` of one file.

    The filter columns are read first, and ``time`` only for the groups where some row
    passed them: a rare value (a principal type, an address range) skips most ``time``
    reads.
    """
    if matcher.tests:
        names = matcher.dictionary
        table = file.read([groups[g].index for g in members], names, dictionary=names)
        keep = matcher.filtered(table)
        starts = np.cumsum([0] + [groups[g].rows for g in members], dtype=np.int64)
        hit = np.unique(np.searchsorted(starts, np.flatnonzero(keep), side="right") - 1)
        if not len(hit):
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
        keep = np.concatenate([keep[starts[k] : starts[k + 1]] for k in hit])
        members = [members[k] for k in hit]
    else:
        keep = None
    times = file.read([groups[g].index for g in members], ["time"])
    micros, timely = matcher.timely(times["time"])
    rows = np.flatnonzero(timely if keep is None else timely & keep)
    return micros[rows], *_locate(groups, members, rows)


def fetch(
    files: Sequence[LakeFile], groups: Sequence[Group], held: Candidates, wanted: list[str]
) -> pa.Table:
    """Phase 2: the candidates' rows with the ``wanted`` event columns (``provider`` from the
    partition path)."""
    schema = pa.schema([EVENT_SCHEMA.field(name) for name in wanted])
    columns = [name for name in wanted if name != "provider"]
    parts = []
    for file, members in _by_file(groups, np.unique(held.group).tolist()):
        numbers = np.asarray(members, np.int64)
        starts = np.cumsum([0] + [groups[g].rows for g in members], dtype=np.int64)
        chosen = np.isin(held.group, numbers)
        order = np.argsort(numbers)
        slot = order[np.searchsorted(numbers[order], held.group[chosen])]
        positions = starts[slot] + held.row[chosen]
        table = files[file].read([groups[g].index for g in members], columns)
        table = table.take(pa.array(positions))
        provider = pa.array([files[file].provider] * table.num_rows, pa.string())
        parts.append(table.append_column("provider", provider).select(wanted).cast(schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def _by_file(groups: Sequence[Group], chosen: Sequence[int]) -> list[tuple[int, list[int]]]:
    """``chosen`` group numbers by file, each file's in row-group order."""
    ordered = sorted(chosen, key=lambda g: (groups[g].file, groups[g].index))
    return [
        (file, list(members)) for file, members in groupby(ordered, key=lambda g: groups[g].file)
    ]


def _locate(
    groups: Sequence[Group], members: list[int], rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(group number, row within it) of rows of a table read from ``members`` in order."""
    starts = np.cumsum([0] + [groups[g].rows for g in members], dtype=np.int64)
    which = np.searchsorted(starts, rows, side="right") - 1
    return np.asarray(members, np.int64)[which], rows - starts[which]
