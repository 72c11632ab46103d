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
from sigma.correlations import SigmaCorrelationType

from detectors.rules.context import BatchContext, is_row_level
from detectors.rules.model import Rule
from detectors.rules.sigma_rules import SigmaCorrelation
from pipelines.events import events_from_arrow

_MONOTONE = ("gte", "gt")


def streams(rule: Rule, whole_by: str) -> bool:
    """Whether ``rule`` can be streamed: a Sigma correlation grouped by ``whole_by`` (so a
    sliced batch holds its groups whole), whose condition only starts to hold as rows are added
    and whose fields are all columns (the carried rows are read without ``raw``)."""
    if not isinstance(rule, SigmaCorrelation) or whole_by not in rule.group_by:
        return False
    temporal = (SigmaCorrelationType.TEMPORAL, SigmaCorrelationType.TEMPORAL_ORDERED)
    try:
        condition = rule.condition
    except ValueError:
        return False
    monotone = condition.op.name.lower() in _MONOTONE
    if rule.sigma.type in temporal and condition.count is None:
        monotone = True
    return monotone and not any(is_row_level(name) for name in rule.fields())


class SlicedCorrelations:
    """Streamed correlations of one batch that arrives as time slices, in time order."""

    def __init__(self, rules: Iterable[Rule], whole_by: str) -> None:
        self.rules = [r for r in rules if streams(r, whole_by)]
        spans = [r.sigma.timespan.seconds for r in self.rules if isinstance(r, SigmaCorrelation)]
        self.span = int(max(spans, default=0)) * 1_000_000  # BatchContext.time_ns is in µs
        self._fields = {"id", "time"}.union(*(r.fields() for r in self.rules))
        self._carry: pa.Table | None = None
        self._masks: dict[str, np.ndarray] = {}

    def ids(self) -> set[str]:
        """The rule ids streamed (the caller defers the other correlations' rows whole)."""
        return {r.meta.rule_id for r in self.rules}

    def add(self, ctx: BatchContext, end: datetime) -> list[str]:
        """Ids of the rows of every window that a row of this slice closes and that fires.

        ``ctx`` is the slice after ``match_rules`` (base-rule masks computed); ``end`` the
        slice's end. Keeps the base rows of the last ``timespan`` for the next slice.
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
        found: set[str] = set()
        if rows.num_rows:
            joined = BatchContext(events_from_arrow(rows))
            joined.masks.update(masks)
            ids = joined.table.column("id")
            for rule in self.rules:
                for group in rule.evaluate(joined):
                    found.update(ids.take(pa.array(group, pa.int64())).to_pylist())
            end_us = pa.scalar(end, pa.timestamp("us", tz="UTC")).cast(pa.int64()).as_py()
            keep = joined.time_ns >= end_us - self.span
            self._carry = joined.table.filter(pa.array(keep))
            self._masks = {k: m[keep] for k, m in masks.items()}
        return sorted(found)


def _narrow(table: pa.Table, keep: set[str]) -> pa.Table:
    """The columns a streamed correlation reads; the others null (carried rows stay small)."""
    columns = [
        column
        if name in keep or not table.schema.field(name).nullable
        else pa.nulls(table.num_rows, column.type)
        for name, column in zip(table.column_names, table.columns, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=table.schema)
