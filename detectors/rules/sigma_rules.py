"""Sigma detection rules and Sigma correlations, as ``Rule`` implementations.

Running a rule needs no pySigma rule or correlation object: ``build`` reads them when a rule
file is compiled, and what the engine keeps (and the plan cache writes) is its own, so a run
whose rules all come from the cache never imports ``sigma.rule``, ``sigma.correlations``,
yaml or pyparsing (~0.08 s of CPU at every start-up).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, auto
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detectors.rules.compile import Node, compile_condition, scoped
from detectors.rules.context import BatchContext, is_row_level
from detectors.rules.logsource import scope_of
from detectors.rules.model import Matches, RuleMeta

if TYPE_CHECKING:
    from sigma.correlations import SigmaCorrelationRule
    from sigma.rule import SigmaRule

PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.@-]+)\}")


def template_fields(template: str | None) -> set[str]:
    return set(PLACEHOLDER.findall(template or ""))


SCREEN_MIN_ROWS = 64
"""Fewer undecided rows are decoded at once: a text search over them would not pay."""
_NO_ROWS = np.empty(0, dtype=np.intp)
"""The undecided rows of a rule that matches nothing (never written to)."""


@dataclass
class SigmaDetectionRule:
    """A Sigma rule compiled to a vectorized predicate tree (pySigma's rule object is not kept:
    the tree is all the engine reads, and what the plan cache writes)."""

    meta: RuleMeta
    tree: Node

    @property
    def screened(self) -> bool:
        return any(leaf.screen is not None for leaf in self.tree.leaves())

    @classmethod
    def build(cls, meta: RuleMeta, sigma: SigmaRule) -> SigmaDetectionRule:
        """Compile the rule over the rows its ``logsource`` names (UnsupportedRule when the
        logsource or a construct is one the engine cannot evaluate)."""
        scope = scope_of(sigma.logsource)
        conditions = [compile_condition(c.parsed) for c in sigma.detection.parsed_condition]
        tree = conditions[0] if len(conditions) == 1 else Node("or", conditions)
        return cls(meta, scoped(scope, tree))

    def fields(self) -> frozenset[str]:
        refs = {ref for leaf in self.tree.leaves() for ref in leaf.refs}
        return frozenset(refs | template_fields(self.meta.title_template) | set(self.meta.dedup))

    def prepare(self, ctx: BatchContext) -> None:
        if self.tree.matches_nothing(ctx):  # no mask over the rows made: ~1 ms a rule
            ctx.pending[self.meta.rule_id] = (ctx.no_rows_packed, _NO_ROWS)
            return
        lo, hi = self.tree.bounds(ctx)
        undecided = np.flatnonzero(hi & ~lo)
        if len(undecided) >= SCREEN_MIN_ROWS and self.screened and ctx.can_screen:
            slo, shi = self.tree.screen_bounds(ctx, undecided)
            lo[undecided[slo]] = True
            undecided = undecided[shi & ~slo]
        # bits until ``evaluate``: ~280 rules' masks held between the two passes were 80 MB
        ctx.pending[self.meta.rule_id] = (np.packbits(lo), undecided)
        if len(undecided):
            raw = {read for leaf in self.tree.leaves() if leaf.row_level for read in leaf.reads}
            ctx.want({f for f in raw if is_row_level(f)}, undecided)

    def evaluate(self, ctx: BatchContext) -> Matches:
        cached = ctx.masks.get(self.meta.rule_id)
        if cached is not None:
            return cached
        decided = ctx.pending.pop(self.meta.rule_id, None)
        if decided is None:
            self.prepare(ctx)
            ctx.load()
            decided = ctx.pending.pop(self.meta.rule_id)
        packed, undecided = decided
        found = self.tree.evaluate(ctx, undecided) if len(undecided) else None
        if packed.any() or (found is not None and found.any()):
            mask = np.unpackbits(packed, count=ctx.n).view(bool)
            if found is not None:
                mask[undecided] = found
        else:  # most rules match nothing in a batch: one shared mask, no fresh pages
            mask = ctx.no_rows
        ctx.masks[self.meta.rule_id] = mask
        return mask


class CorrelationType(Enum):
    """pySigma's ``SigmaCorrelationType``, member for member (the same names, the same
    ``str``); the engine runs four of them."""

    EVENT_COUNT = auto()
    VALUE_COUNT = auto()
    TEMPORAL = auto()
    TEMPORAL_ORDERED = auto()
    VALUE_SUM = auto()
    VALUE_AVG = auto()
    VALUE_PERCENTILE = auto()
    VALUE_MEDIAN = auto()

    def __str__(self) -> str:
        return self.name.lower()


class CorrelationOperator(Enum):
    """pySigma's ``SigmaCorrelationConditionOperator``, member for member."""

    LT = auto()
    LTE = auto()
    GT = auto()
    GTE = auto()
    EQ = auto()
    NEQ = auto()


@dataclass(frozen=True)
class CorrelationCondition:
    """What the engine reads of pySigma's ``SigmaCorrelationCondition``."""

    op: CorrelationOperator
    count: int | float | None
    fieldref: str | list[str] | None


@dataclass(frozen=True)
class CorrelationTimespan:
    """What the engine reads of pySigma's ``SigmaCorrelationTimespan``."""

    spec: str
    seconds: int


@dataclass(frozen=True)
class CorrelationSpec:
    """A Sigma correlation rule as the engine reads it (pySigma's ``SigmaCorrelationRule``
    without its YAML and references to other rules): type, grouping, window and condition.

    ``condition`` is None for pySigma's extended (boolean) conditions, which the engine does
    not evaluate: ``SigmaCorrelation.condition`` says so, at load time.
    """

    type: CorrelationType
    group_by: list[str] | None
    timespan: CorrelationTimespan
    condition: CorrelationCondition | None
    generate: bool
    name: str | None
    id: str | None

    @classmethod
    def of(cls, sigma: SigmaCorrelationRule) -> CorrelationSpec:
        from sigma.correlations import SigmaCorrelationCondition

        cond = sigma.condition
        condition = (
            CorrelationCondition(CorrelationOperator[cond.op.name], cond.count, cond.fieldref)
            if isinstance(cond, SigmaCorrelationCondition)
            else None
        )
        return cls(
            type=CorrelationType[sigma.type.name],
            group_by=list(sigma.group_by) if sigma.group_by is not None else None,
            timespan=CorrelationTimespan(sigma.timespan.spec, sigma.timespan.seconds),
            condition=condition,
            generate=sigma.generate,
            name=sigma.name,
            id=str(sigma.id) if sigma.id is not None else None,
        )


@dataclass
class SigmaCorrelation:
    """``event_count``, ``value_count``, ``temporal`` or ``temporal_ordered`` over the rows of its
    base rules.

    Windows: every matching row closes a trailing window of ``timespan`` per group; where the
    condition holds, that window fires, and overlapping firing windows merge into one alert whose
    evidence is every base-rule row of the group inside the merged window. Rows are sorted once
    by (group, time) and window starts found with one ``searchsorted``.
    """

    meta: RuleMeta
    sigma: CorrelationSpec
    bases: list[SigmaDetectionRule]

    @classmethod
    def build(
        cls, meta: RuleMeta, sigma: SigmaCorrelationRule, bases: list[SigmaDetectionRule]
    ) -> SigmaCorrelation:
        return cls(meta, CorrelationSpec.of(sigma), bases)

    @property
    def group_by(self) -> tuple[str, ...]:
        """The fields that key a group: a batch holding all rows of one value sees it whole."""
        return tuple(str(name) for name in self.sigma.group_by or ())

    @property
    def condition(self) -> CorrelationCondition:
        cond = self.sigma.condition
        if cond is None:
            raise ValueError(f"{self.meta.rule_id}: extended correlation conditions unsupported")
        return cond

    @property
    def value_field(self) -> str | None:
        ref = self.condition.fieldref
        if isinstance(ref, list):
            if len(ref) != 1:
                raise ValueError(f"{self.meta.rule_id}: value_count takes exactly one field")
            ref = ref[0]
        return str(ref) if ref else None

    def fields(self) -> frozenset[str]:
        names = set(self.sigma.group_by or [])
        if self.value_field:
            names.add(self.value_field)
        return frozenset(names | template_fields(self.meta.title_template) | set(self.meta.dedup))

    def prepare(self, ctx: BatchContext) -> None:
        for base in self.bases:
            if base.meta.rule_id not in ctx.masks and base.meta.rule_id not in ctx.pending:
                base.prepare(ctx)

    def evaluate(self, ctx: BatchContext) -> Matches:
        masks = [np.asarray(base.evaluate(ctx)) for base in self.bases]
        rows = np.flatnonzero(np.logical_or.reduce(masks)) if masks else np.array([], int)
        if not len(rows):
            return []
        group = group_codes([ctx.first_array(name, rows) for name in self.sigma.group_by or []])
        times = ctx.time_ns[rows]
        order = np.lexsort((rows, times, group))
        rows, times, group = rows[order], times[order], group[order]
        span = int(self.sigma.timespan.seconds) * 1_000_000
        left = _window_starts(group, times, span)
        value = self._window_values(ctx, rows, group, left, masks)
        fired = np.flatnonzero(self._holds(value))
        if not len(fired):
            return []
        # merge overlapping firing windows of a group: a new window starts when the group
        # changes or the window's start lies after the previous firing row's time
        new = np.ones(len(fired), dtype=bool)
        new[1:] = (group[fired[1:]] != group[fired[:-1]]) | (
            times[fired[1:]] - span > times[fired[:-1]]
        )
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], len(fired)) - 1
        return [rows[left[fired[a]] : fired[b] + 1] for a, b in zip(starts, ends, strict=True)]

    def _window_values(
        self,
        ctx: BatchContext,
        rows: np.ndarray,
        group: np.ndarray,
        left: np.ndarray,
        masks: list[np.ndarray],
    ) -> np.ndarray:
        """The correlation's measure over each row's trailing window [left, row]."""
        kind = self.sigma.type
        position = np.arange(len(rows))
        if kind == CorrelationType.EVENT_COUNT:
            return (position - left + 1).astype(float)
        if kind == CorrelationType.TEMPORAL:
            present = np.zeros(len(rows))
            for mask in masks:
                seen = np.concatenate([[0], np.cumsum(mask[rows])])
                present += (seen[position + 1] - seen[left]) > 0
            return present
        if kind == CorrelationType.TEMPORAL_ORDERED:
            return _ordered_in_windows([mask[rows] for mask in masks], left)
        if kind == CorrelationType.VALUE_COUNT:
            fieldref = self.value_field
            if not fieldref:
                raise ValueError(f"{self.meta.rule_id}: value_count needs condition.field")
            values = group_codes([ctx.first_array(fieldref, rows)], null=-1)
            return _distinct_in_windows(group, values, left).astype(float)
        raise ValueError(f"{self.meta.rule_id}: unsupported correlation type {kind}")

    def _holds(self, value: np.ndarray) -> np.ndarray:
        cond = self.condition
        op = cond.op.name.lower()
        target = float(cond.count if cond.count is not None else 0)
        temporal = (CorrelationType.TEMPORAL, CorrelationType.TEMPORAL_ORDERED)
        if self.sigma.type in temporal and cond.count is None:
            target, op = float(len(self.bases)), "gte"
        compare = {
            "gte": np.greater_equal,
            "gt": np.greater,
            "lte": np.less_equal,
            "lt": np.less,
            "eq": np.equal,
            "neq": np.not_equal,
        }[op]
        return np.asarray(compare(value, target), dtype=bool)


def group_codes(
    columns: Sequence[pa.Array | list[str | None]], null: int | None = None
) -> np.ndarray:
    """One int code per row for the combination of values (missing = its own value, or
    ``null`` when given and a single column's value is missing)."""
    n = len(columns[0]) if columns else 0
    combined = np.zeros(n, dtype=np.int64)
    for values in columns:
        text = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
        codes = pc.fill_null(pc.dictionary_encode(text).indices, -1)
        as_np = codes.to_numpy().astype(np.int64)
        if null is not None and len(columns) == 1:
            return np.where(as_np < 0, null, as_np)
        combined = combined * (int(as_np.max(initial=0)) + 2) + (as_np + 1)
        _, combined = np.unique(combined, return_inverse=True)
    return combined


def _window_starts(group: np.ndarray, times: np.ndarray, span: int) -> np.ndarray:
    """For rows sorted by (group, time): index of the first row of the same group whose time
    is >= this row's time - span (the trailing window [t - span, t], both ends closed)."""
    if not len(times):
        return np.zeros(0, dtype=np.int64)
    rel = times - times.min()
    width = int(rel.max()) + span + 1
    if int(group.max()) * width < 2**62:
        key = group * width + rel
        return np.searchsorted(key, key - span, side="left").astype(np.int64)
    left = np.empty(len(times), dtype=np.int64)  # huge spans: per group, still vectorized
    for g in np.unique(group):
        idx = np.flatnonzero(group == g)
        left[idx] = idx[0] + np.searchsorted(times[idx], times[idx] - span, side="left")
    return left


def _ordered_in_windows(hits: list[np.ndarray], left: np.ndarray) -> np.ndarray:
    """How many base rules, in their listed order, match one after another inside each row's
    window [left, row] (rows sorted by group and time).

    Greedy and vectorized: from the window start, jump to the next row of the first rule, then
    from just after it to the next row of the second, and so on; a window holds the whole
    sequence when the last jump lands at or before the row. One row never counts for two rules.
    """
    n = len(left)
    position = np.arange(n)
    at = left.astype(np.int64)
    done = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    for hit in hits:
        # next_row[p]: first index >= p where this rule matched (n when none is left)
        marked = np.where(hit, position, n)
        next_row = np.append(np.minimum.accumulate(marked[::-1])[::-1], n)
        found = next_row[np.minimum(at, n)]
        alive &= found <= position
        done += alive
        at = found + 1
    return done


def _distinct_in_windows(group: np.ndarray, values: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Distinct non-null values in each row's window [left, row], rows sorted by group/time.

    A sliding window with a counter: one pass over the base-rule matches (a small subset of
    the batch), O(n) dictionary operations.
    """
    # ``left`` never points into an earlier group, so the counter only ever holds one group
    out = np.zeros(len(values), dtype=np.int64)
    counts: dict[int, int] = {}
    start = 0
    vals, lefts = values.tolist(), left.tolist()
    for i, v in enumerate(vals):
        while start < lefts[i]:
            gone = vals[start]
            if gone >= 0:
                counts[gone] -= 1
                if not counts[gone]:
                    del counts[gone]
            start += 1
        if v >= 0:
            counts[v] = counts.get(v, 0) + 1
        out[i] = len(counts)
    return out
