"""Correlation windows across the time slices of one batch, found exactly and streamed.

A correlation (``SigmaCorrelation``) fires where a row closes a trailing window of ``timespan``
whose rows meet its condition; its alert is the merged run of firing windows. A window only
ever reads the rows of the ``timespan`` before its closing row. So when one partition's events
come as time slices in order, the base rows of the last ``timespan`` carried from one slice to
the next make every window whole: each slice finds every window its rows close. Those windows'
rows (the alerts' evidence) are all the later re-run needs (``service.scoring.merge`` runs the
correlations once over them): with a condition that can only start to hold as rows are added
(``gte``, ``gt``, temporal), rows outside every firing window cannot make another window fire,
and each merged run of windows is rebuilt from its own rows. Without this, a busy principal's
every base row (all its Lambda invocations, say) would travel to the re-run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detectors.rules.context import BatchContext, columns_of, is_row_level
from detectors.rules.model import Rule
from detectors.rules.sigma_rules import CorrelationType, SigmaCorrelation, group_codes
from pipelines.events import EVENT_COLUMNS, events_from_arrow

_MONOTONE = ("gte", "gt")


def streams(rule: Rule, whole_by: str) -> bool:
    """Whether ``rule`` can be streamed: a Sigma correlation grouped by ``whole_by`` (so a
    sliced batch holds its groups whole), whose condition only starts to hold as rows are added
    and whose fields are all columns (the carried rows are read without ``raw``)."""
    if not isinstance(rule, SigmaCorrelation) or whole_by not in rule.group_by:
        return False
    temporal = (CorrelationType.TEMPORAL, CorrelationType.TEMPORAL_ORDERED)
    try:
        condition = rule.condition
    except ValueError:
        return False
    monotone = condition.op.name.lower() in _MONOTONE
    if rule.sigma.type in temporal and condition.count is None:
        monotone = True
    columns = all(name in EVENT_COLUMNS for name in rule.group_by)
    return monotone and columns and not any(is_row_level(name) for name in rule.fields())


class SlicedCorrelations:
    """Streamed correlations of one batch that arrives as time slices, in time order."""

    def __init__(self, rules: Iterable[Rule], whole_by: str) -> None:
        self.rules = [r for r in rules if streams(r, whole_by)]
        self.span = max((_span(r) for r in self.rules), default=0)
        self._fields = {"id", "time"}.union(
            *(columns_of(name) for r in self.rules for name in r.fields())
        )
        self._groups = set().union(
            *(r.group_by for r in self.rules if isinstance(r, SigmaCorrelation))
        )
        self._carry: pa.Table | None = None
        self._masks: dict[str, np.ndarray] = {}
        self._shadow: pa.Table | None = None

    def ids(self) -> set[str]:
        """The rule ids streamed (the caller defers the other correlations' rows whole)."""
        return {r.meta.rule_id for r in self.rules}

    def add(self, ctx: BatchContext, end: datetime) -> list[str]:
        """Ids of the rows of every window that a row of this slice closes and that fires.

        ``ctx`` is the slice after ``match_rules`` (base-rule masks computed); ``end`` the
        slice's end. Keeps the base rows of the last ``timespan`` for the next slice: whole
        where a later window may need them to fire, as id, time and group only (the shadow)
        where they can only be evidence, e.g. a temporal_ordered correlation's later steps
        before its first step (a busy function's invocations with no function created before).
        """
        bases = {b.meta.rule_id: b for r in self.rules for b in getattr(r, "bases", ())}
        if not self.rules or not bases:
            return []
        masks = {k: np.asarray(ctx.masks[k], dtype=bool) for k in bases}
        mine = np.logical_or.reduce(list(masks.values())) if ctx.n else np.zeros(0, bool)
        rows = _narrow(ctx.table.filter(pa.array(mine)), self._fields)
        if self._carry is not None and self._carry.num_rows:
            rows = pa.concat_tables([self._carry, rows])
            masks = {k: np.concatenate([self._masks[k], m[mine]]) for k, m in masks.items()}
        else:
            masks = {k: m[mine] for k, m in masks.items()}
        end_us = pa.scalar(end, pa.timestamp("us", tz="UTC")).cast(pa.int64()).as_py()
        found: set[str] = set()
        joined = BatchContext(events_from_arrow(rows))
        joined.masks.update(masks)
        ids = joined.table.column("id")
        for rule in self.rules:
            for group in rule.evaluate(joined) if joined.n else ():
                found.update(ids.take(pa.array(group, pa.int64())).to_pylist())
                since = int(joined.time_ns[group[0]]) - _span(rule)
                found.update(self._shadowed(rule, joined, int(group[0]), since))
        active = np.zeros(joined.n, dtype=bool)
        for rule in self.rules:
            active |= _needed(rule, joined, masks, end_us)
        recent = joined.time_ns >= end_us - self.span
        self._shadow = self._shadow_after(joined.table.filter(pa.array(recent & ~active)), end_us)
        self._carry = joined.table.filter(pa.array(active))
        self._masks = {k: m[active] for k, m in masks.items()}
        return sorted(found)

    def _shadowed(self, rule: Rule, joined: BatchContext, row: int, since: int) -> list[str]:
        """Shadow rows of the group of ``row`` from ``since`` on: a superset of the firing
        windows' rows the carry dropped, all of them true base rows, which the re-run may get
        (it rebuilds each alert from the rows of its windows, extra rows change nothing)."""
        shadow = self._shadow
        if shadow is None or not shadow.num_rows:
            return []
        keep = pc.greater_equal(shadow.column("time"), since)
        for name in getattr(rule, "group_by", ()):
            value = joined.first_values(name, np.array([row]))[0]
            column = shadow.column(name)
            same = pc.is_null(column) if value is None else pc.equal(column, str(value))
            keep = pc.and_(keep, pc.fill_null(same, False))
        return shadow.filter(keep).column("id").to_pylist()

    def _shadow_after(self, moved: pa.Table, end_us: int) -> pa.Table:
        columns = ["id", *sorted(self._groups)]
        new = moved.select(columns).append_column("time", moved.column("time").cast(pa.int64()))
        if self._shadow is not None and self._shadow.num_rows:
            old = self._shadow.filter(
                pc.greater_equal(self._shadow.column("time"), end_us - self.span)
            )
            new = pa.concat_tables([old, new])
        return new


def _span(rule: Rule) -> int:
    """The correlation's timespan in µs (BatchContext.time_ns is in µs)."""
    return int(rule.sigma.timespan.seconds) * 1_000_000 if isinstance(rule, SigmaCorrelation) else 0


def _needed(
    rule: Rule, joined: BatchContext, masks: dict[str, np.ndarray], end_us: int
) -> np.ndarray:
    """Rows a window closed after ``end_us`` may need to fire: the rule's base rows of its last
    timespan; for temporal_ordered, less those before the group's first row of the first step
    (the greedy sequence starts at that row, so they never count)."""
    if not isinstance(rule, SigmaCorrelation) or not joined.n:
        return np.zeros(joined.n, dtype=bool)
    base = np.logical_or.reduce([masks[b.meta.rule_id] for b in rule.bases])
    need = base & (joined.time_ns >= end_us - _span(rule))
    if rule.sigma.type != CorrelationType.TEMPORAL_ORDERED or not need.any():
        return need
    rows = np.flatnonzero(need)
    group = group_codes([joined.first_values(name, rows) for name in rule.group_by])
    times = joined.time_ns[rows]
    first = masks[rule.bases[0].meta.rule_id][rows]
    earliest = np.full(int(group.max(initial=0)) + 1, np.iinfo(np.int64).max)
    np.minimum.at(earliest, group[first], times[first])
    need[rows[times < earliest[group]]] = False
    return need


def _narrow(table: pa.Table, keep: set[str]) -> pa.Table:
    """The columns a streamed correlation reads; the others null (carried rows stay small)."""
    columns = [
        column
        if name in keep or not table.schema.field(name).nullable
        else pa.nulls(table.num_rows, column.type)
        for name, column in zip(table.column_names, table.columns, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=table.schema)
