"""Rules over micro-batches that arrive one after another (``functrail watch``), raising the
alerts the daily job raises over the whole day.

A row rule judges one record at a time, so a micro-batch is a small day to it. A windowed rule
(a Sigma correlation; a Python rule with a ``window``) judges a record together with the rows
of the trailing window before it, which may have come in an earlier micro-batch or, since
CloudTrail delivers up to ~15 minutes late, in a later one. So the stream carries, by event
time, the rows those rules can read (their base rules' matches, their ``candidates``) of the
last window plus ``lateness`` behind the newest event seen, and runs the windowed rules over
them together with the batch's. Memory stays bounded: only rows a windowed rule reads, each for
its rule's window plus the lateness, and at most ``max_rows`` of them. An alert none of whose
rows is in the batch was raised by an earlier batch and is left out.

A window whose rows all reach the stream sees what the day's batch sees, so it fires with the
same rows, first row and alert id; ``save_alerts`` folds the rest by dedup key.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detectors.alert import Alert, fold
from detectors.rules.context import BatchContext
from detectors.rules.engine import batch_alerts, match_rules
from detectors.rules.model import Matches, Rule
from detectors.rules.registry import RuleRegistry
from detectors.rules.sigma_rules import CorrelationType, SigmaCorrelation
from pipelines.events import events_from_arrow

LATENESS = timedelta(minutes=15)
"""How late a record may come and still meet the rows of its window (CloudTrail: ~15 min)."""
MAX_CARRIED = 200_000
"""Carried rows at most: past it the oldest go (a burst of base rows must not exhaust memory)."""
MAX_CHUNKS = 16
"""The carry is made whole again past this many pieces (one per batch, else every later
operation on it walks them all)."""


def window_of(rule: Rule) -> timedelta | None:
    """The trailing window a rule reads across records, None for a row rule."""
    if isinstance(rule, SigmaCorrelation):
        return timedelta(seconds=int(rule.sigma.timespan.seconds))
    window = getattr(rule, "window", None)
    return None if window is None else pd.Timedelta(window).to_pytimedelta()


class StreamRules:
    """The rules' state between micro-batches: the carried rows of the windowed rules."""

    def __init__(self, *, lateness: timedelta = LATENESS, max_rows: int = MAX_CARRIED) -> None:
        self.lateness = lateness
        self.max_rows = max_rows
        self._carry: pa.Table | None = None
        self._until = np.zeros(0, dtype=np.int64)
        """Per carried row: its time plus the longest window that reads it (µs)."""
        self._watermark: int | None = None
        """The newest event time seen (µs), capped at the wall clock."""
        self._open: dict[str, dict[tuple[str | None, ...], int]] = {}
        """temporal_ordered rule id -> group -> time of its earliest first step (µs)"""
        self._open_spans: dict[str, int] = {}
        self.evicted = 0
        """Rows dropped from the carry by ``max_rows`` before their window ended."""

    @property
    def carried(self) -> int:
        return 0 if self._carry is None else int(self._carry.num_rows)

    def run(self, events: pd.DataFrame, rules: RuleRegistry | Iterable[Rule]) -> list[Alert]:
        """Alerts of one micro-batch (event-model frame, ``raw`` included), folded by key."""
        active = rules.active() if isinstance(rules, RuleRegistry) else list(rules)
        windowed = [r for r in active if window_of(r) is not None]
        row_rules = [r for r in active if window_of(r) is None]
        ctx, results = match_rules(events, [*row_rules, *_missing_bases(windowed, row_rules)])
        alerts = batch_alerts(ctx, row_rules, results)
        if windowed:
            alerts.extend(self._windowed(ctx, results, windowed))
        return fold(alerts)

    def warm(self, events: pd.DataFrame, rules: RuleRegistry | Iterable[Rule]) -> None:
        """Carry what ``events`` (already detected: the lake's last minutes at start-up) holds
        for the windowed rules, raising nothing."""
        active = rules.active() if isinstance(rules, RuleRegistry) else list(rules)
        windowed = [r for r in active if window_of(r) is not None]
        if not windowed or events.empty:
            return
        ctx, results = match_rules(events, _missing_bases(windowed, []))
        joined, _ = self._join(ctx, self._carried_spans(ctx, results, windowed))
        self._advance(joined, ctx)

    def _windowed(
        self, ctx: BatchContext, results: Mapping[str, Matches], windowed: list[Rule]
    ) -> list[Alert]:
        joined, fresh = self._join(ctx, self._carried_spans(ctx, results, windowed))
        found: list[Alert] = []
        if fresh:
            jctx, jresults = match_rules(events_from_arrow(joined[0]), windowed)
            found = [
                alert
                for alert in batch_alerts(jctx, windowed, jresults)
                if not fresh.isdisjoint(alert.evidence.event_ids)
            ]
        self._advance(joined, ctx)
        return found

    def _carried_spans(
        self, ctx: BatchContext, results: Mapping[str, Matches], windowed: list[Rule]
    ) -> np.ndarray:
        """Per row of the batch, the longest window of a windowed rule that reads it (µs; 0:
        none does): base-rule matches of correlations, Python rules' candidates.

        A ``temporal_ordered`` correlation's later steps are read only in a group whose first
        step came (``_opened``): "a function created by a person, then invoked" must not carry
        every invocation of the hour. A first step that arrives after its later steps (beyond
        the batch they came in) is left to the daily job."""
        spans = np.zeros(ctx.n, dtype=np.int64)
        if not ctx.n:
            return spans
        for rule in windowed:
            span = int((window_of(rule) or timedelta(0)) / timedelta(microseconds=1))
            reads = np.zeros(ctx.n, dtype=bool)
            bases = list(getattr(rule, "bases", ()))
            for base in bases:
                reads |= np.asarray(results[base.meta.rule_id], dtype=bool)
            if isinstance(rule, SigmaCorrelation) and _ordered(rule) and reads.any():
                reads &= self._opened(rule, ctx, results)
            elif not isinstance(rule, SigmaCorrelation):
                candidates = getattr(rule, "candidates", None)
                if candidates is None:
                    reads[:] = True
                else:
                    reads[np.asarray(candidates(ctx.events), dtype=np.int64)] = True
            spans[reads] = np.maximum(spans[reads], span)
        return spans

    def _opened(
        self, rule: SigmaCorrelation, ctx: BatchContext, results: Mapping[str, Matches]
    ) -> np.ndarray:
        """Rows of groups whose first step came within the window (this batch's first steps
        open their groups), the first steps themselves included."""
        first = np.asarray(results[rule.bases[0].meta.rule_id], dtype=bool)
        later = np.zeros(ctx.n, dtype=bool)
        for base in rule.bases[1:]:
            later |= np.asarray(results[base.meta.rule_id], dtype=bool)
        opened = self._open.setdefault(rule.meta.rule_id, {})
        self._open_spans[rule.meta.rule_id] = _micros(window_of(rule))
        rows = np.flatnonzero(first)
        if len(rows):
            keys = zip(*(ctx.first_values(name, rows) for name in rule.group_by), strict=True)
            for key, at in zip(keys, ctx.time_ns[rows].tolist(), strict=True):
                opened[key] = min(opened.get(key, at), at)
        keep = first.copy()
        rows = np.flatnonzero(later & ~first)
        if len(rows) and opened:
            keys = zip(*(ctx.first_values(name, rows) for name in rule.group_by), strict=True)
            times = ctx.time_ns[rows].tolist()
            hits = [
                key in opened and opened[key] <= at for key, at in zip(keys, times, strict=True)
            ]
            keep[rows[np.asarray(hits, dtype=bool)]] = True
        return keep

    def _close_groups(self) -> None:
        """Forget groups whose first step is older than the window plus the lateness."""
        assert self._watermark is not None
        lateness = _micros(self.lateness)
        for rule_id, opened in self._open.items():
            horizon = self._watermark - self._open_spans.get(rule_id, 0) - lateness
            for key in [k for k, at in opened.items() if at < horizon]:
                del opened[key]

    def _join(
        self, ctx: BatchContext, spans: np.ndarray
    ) -> tuple[tuple[pa.Table, np.ndarray], set[str]]:
        """The carry with the batch's rows that a windowed rule reads (``spans > 0``) added, one
        row per id (a repeat keeps the carried one), each with the time it may be let go; and
        the ids of the batch's rows among them (a repeat included: after a crash the batch may
        hold rows stored, warmed into the carry, and never detected)."""
        keep = spans > 0
        rows = ctx.table.filter(pa.array(keep))
        until = ctx.time_ns[keep] + spans[keep]
        fresh = set(rows.column("id").to_pylist())
        carry, carry_until = self._carry, self._until
        if carry is not None and carry.num_rows:
            known = pc.fill_null(pc.is_in(rows.column("id"), value_set=carry.column("id")), False)
            new = ~np.asarray(known, dtype=bool)
            rows, until = rows.filter(pa.array(new)), until[new]
        first = _first_per_id(rows)
        rows, until = rows.take(pa.array(first, pa.int64())), until[first]
        if carry is not None and carry.num_rows:
            rows = pa.concat_tables([carry, rows])
            until = np.concatenate([carry_until, until])
        return (rows, until), fresh

    def _advance(self, joined: tuple[pa.Table, np.ndarray], ctx: BatchContext) -> None:
        """Move the watermark to the batch's newest event (never past the wall clock) and keep
        the rows whose window, plus the lateness, reaches it; at most ``max_rows``, newest
        first."""
        rows, until = joined
        if ctx.n:
            newest = min(int(ctx.time_ns.max()), int(time.time() * 1_000_000))
            self._watermark = max(self._watermark or newest, newest)
        if self._watermark is not None:
            self._close_groups()
        if self._watermark is not None and len(until):
            lateness = int(self.lateness / timedelta(microseconds=1))
            alive = until + lateness >= self._watermark
            if not alive.all():
                rows, until = rows.filter(pa.array(alive)), until[alive]
        if len(until) > self.max_rows:
            times = rows.column("time").cast(pa.int64()).to_numpy()
            cut = len(times) - self.max_rows
            kept = np.flatnonzero(times >= np.partition(times, cut)[cut])[-self.max_rows :]
            self.evicted += len(until) - len(kept)
            rows, until = rows.take(pa.array(kept, pa.int64())), until[kept]
        if rows.column("id").num_chunks > MAX_CHUNKS:
            rows = rows.combine_chunks()
        self._carry, self._until = rows, until


def _micros(span: timedelta | None) -> int:
    return int((span or timedelta(0)) / timedelta(microseconds=1))


def _ordered(rule: SigmaCorrelation) -> bool:
    return bool(rule.sigma.type == CorrelationType.TEMPORAL_ORDERED)


def _missing_bases(windowed: list[Rule], present: list[Rule]) -> list[Rule]:
    """The correlations' base rules the row pass does not run already (a base rule that does
    not alert on its own is still matched on every batch: its rows are carried)."""
    have = {r.meta.rule_id for r in present}
    found: dict[str, Rule] = {}
    for rule in windowed:
        for base in getattr(rule, "bases", ()):
            if base.meta.rule_id not in have:
                found[base.meta.rule_id] = base
    return list(found.values())


def _first_per_id(rows: pa.Table) -> np.ndarray:
    """Positions of the first row of each id, in order."""
    if not rows.num_rows:
        return np.zeros(0, dtype=np.int64)
    ids = rows.column("id").to_numpy(zero_copy_only=False)
    _, first = np.unique(ids, return_index=True)
    return np.sort(first)
