"""Run rules over a batch of events: prefilter on columns, parse raw once, evaluate, alert."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from detectors.alert import Alert, fold
from detectors.rules.alerts import alert_groups, build_alerts, evidence_rows, load_samples
from detectors.rules.context import BatchContext, RawFetch
from detectors.rules.model import Matches, Rule
from detectors.rules.registry import RuleRegistry
from detectors.rules.windows import SlicedCorrelations


def match_rules(
    events: pd.DataFrame,
    rules: Iterable[Rule],
    *,
    raw_fetch: RawFetch | None = None,
    carried: pa.Table | None = None,
) -> tuple[BatchContext, dict[str, Matches]]:
    """Each rule's matches over one batch (the building block of ``run_rules`` and tests).

    ``raw_fetch``: the batch was read without ``raw``; records come from it by id, on demand.
    ``carried``: raw fields the normalizer decoded, row for row (``normalize.carried``).
    """
    ctx = BatchContext(events, raw_fetch, carried)
    active = list(rules)
    # detection rules before correlations, so correlations reuse their base-rule masks
    ordered = sorted(active, key=lambda r: r.meta.kind == "correlation")
    results: dict[str, Matches] = {}
    if ctx.n == 0:
        return ctx, {rule.meta.rule_id: np.zeros(0, dtype=bool) for rule in ordered}
    for rule in ordered:
        rule.prepare(ctx)
    ctx.load()
    for rule in ordered:
        results[rule.meta.rule_id] = rule.evaluate(ctx)
    return ctx, results


def _active(rules: RuleRegistry | Iterable[Rule]) -> list[Rule]:
    return rules.active() if isinstance(rules, RuleRegistry) else list(rules)


def batch_alerts(ctx: BatchContext, rules: list[Rule], results: dict[str, Matches]) -> list[Alert]:
    """Alerts of the generating rules, their evidence records fetched in one call."""
    groups = {
        rule.meta.rule_id: alert_groups(rule.meta, ctx, results[rule.meta.rule_id])
        for rule in rules
        if rule.meta.generate
    }
    load_samples(ctx, evidence_rows([g for found in groups.values() for g in found]))
    alerts: list[Alert] = []
    for rule in rules:
        if rule.meta.generate:
            found = groups[rule.meta.rule_id]
            alerts.extend(build_alerts(rule.meta, ctx, results[rule.meta.rule_id], found))
    return alerts


def run_rules(
    events: pd.DataFrame,
    rules: RuleRegistry | Iterable[Rule],
    *,
    raw_fetch: RawFetch | None = None,
    carried: pa.Table | None = None,
) -> list[Alert]:
    """Alerts of the enabled rules over one batch, folded by dedup key."""
    active = _active(rules)
    ctx, results = match_rules(events, active, raw_fetch=raw_fetch, carried=carried)
    return fold(batch_alerts(ctx, active, results))


def run_rules_deferring_correlations(
    events: pd.DataFrame,
    rules: RuleRegistry | Iterable[Rule],
    *,
    whole_by: str | None,
    raw_fetch: RawFetch | None = None,
    windows: SlicedCorrelations | None = None,
    end: datetime | None = None,
) -> tuple[list[Alert], list[str]]:
    """Alerts of the batch, less those of correlations that do not group by ``whole_by`` (all
    correlations when None), and the ids of the rows those correlations' base rules matched.

    For a batch that holds every row of each ``whole_by`` value but only some rows of other
    groups (one principal range of a split account), or only some time of every group (None:
    one time slice): the caller gathers the returned rows from every batch and runs the
    deferred correlations over them (``deferred``). That is exact, since a correlation reads
    its base rows only. ``windows`` (with the slice's ``end``): the batch is the next time slice
    of one partition; the correlations it streams return only the rows of their firing windows.
    """
    active = _active(rules)
    ctx, results = match_rules(events, active, raw_fetch=raw_fetch)
    later = {rule.meta.rule_id for rule in deferred(active, whole_by)}
    streamed = windows.ids() if windows is not None else set()
    base = np.zeros(ctx.n, dtype=bool)
    for rule in active if ctx.n else ():
        if rule.meta.rule_id in later and rule.meta.rule_id not in streamed:
            for base_rule in getattr(rule, "bases", ()):
                base |= np.asarray(ctx.masks[base_rule.meta.rule_id], dtype=bool)
    now = [rule for rule in active if rule.meta.rule_id not in later]
    ids = ctx.column("id").filter(base).to_pylist() if ctx.n else []
    if windows is not None and end is not None and ctx.n:
        ids.extend(windows.add(ctx, end))
    return fold(batch_alerts(ctx, now, results)), ids


def deferred(rules: Iterable[Rule], whole_by: str | None) -> list[Rule]:
    """The correlations that group across ``whole_by`` values (every correlation when None;
    ``getattr``: any rule kind)."""
    return [
        rule
        for rule in rules
        if rule.meta.kind == "correlation"
        and (whole_by is None or whole_by not in getattr(rule, "group_by", ()))
    ]
