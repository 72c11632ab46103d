"""Run rules over a batch of events: prefilter on columns, parse raw once, evaluate, alert."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from detectors.alert import Alert, fold
from detectors.rules.alerts import build_alerts
from detectors.rules.context import BatchContext
from detectors.rules.model import Matches, Rule
from detectors.rules.registry import RuleRegistry


def match_rules(
    events: pd.DataFrame, rules: Iterable[Rule]
) -> tuple[BatchContext, dict[str, Matches]]:
    """Each rule's matches over one batch (the building block of ``run_rules`` and tests)."""
    ctx = BatchContext(events)
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


def run_rules(events: pd.DataFrame, rules: RuleRegistry | Iterable[Rule]) -> list[Alert]:
    """Alerts of the enabled rules over one batch, folded by dedup key."""
    active = rules.active() if isinstance(rules, RuleRegistry) else list(rules)
    ctx, results = match_rules(events, active)
    alerts: list[Alert] = []
    for rule in active:
        if not rule.meta.generate:
            continue
        alerts.extend(build_alerts(rule.meta, ctx, results[rule.meta.rule_id]))
    return fold(alerts)
