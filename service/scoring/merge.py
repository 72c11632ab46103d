"""Settle the rule alerts of accounts split into principal ranges and time slices, exactly as
if each account were one batch.

A row rule's alert is made of every row it matched with one dedup key; a key seen in one range
or slice already has all its rows, a key seen in several is rebuilt from the union of their
evidence rows. A correlation reads only the rows its base rules matched. One grouped by
principal sees its groups whole in an unsliced range (its alerts of one key in several ranges
fold, as one batch folds them); any other correlation, and every correlation of a time-sliced
range (its windows cross the cuts), runs once over its base rows gathered from the pieces that
deferred it. The re-runs read the rows they need by id, never the whole account.
Anomaly alerts are settled per run, not per account (``service.scoring.anomalies``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from detectors.alert import Alert, fold
from detectors.rules.engine import deferred, run_rules
from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.scoring.detect import PartResult, rule_registry
from service.scoring.partitions import Partition, read_partition


def settle_alerts(
    parts: Sequence[Partition],
    results: Sequence[PartResult],
    settings: Settings,
    enabled: Mapping[str, bool] | None = None,
) -> list[Alert]:
    """Every partition's rule alerts, those of split accounts settled across their pieces."""
    alerts: list[Alert] = []
    split: dict[tuple[str, str | None], list[tuple[Partition, PartResult]]] = {}
    for part, result in zip(parts, results, strict=True):
        if part.split:
            split.setdefault((part.provider, part.accounts[0]), []).append((part, result))
        else:
            alerts.extend(result.alerts)
    for pieces in split.values():
        alerts.extend(_settle_account(pieces, settings, enabled))
    return alerts


def _settle_account(
    pieces: list[tuple[Partition, PartResult]],
    settings: Settings,
    enabled: Mapping[str, bool] | None,
) -> list[Alert]:
    by_key: dict[str, list[Alert]] = {}
    kept: list[Alert] = []
    for _, result in pieces:
        for alert in result.alerts:
            if alert.detector == "rule":
                by_key.setdefault(alert.dedup_key, []).append(alert)
            else:
                kept.append(alert)
    active = rule_registry(settings, enabled).active()
    kinds = {rule.meta.rule_id: rule.meta.kind for rule in active}
    crossing: dict[str, set[str]] = {}  # row rule id -> dedup keys seen in several ranges
    evidence: list[str] = []
    folded: dict[str, list[Alert]] = {}  # correlation keys: folded once every piece is in
    for key, found in by_key.items():
        rule_id = found[0].rule_id or ""
        if kinds.get(rule_id) == "correlation":
            folded[key] = found
        elif len(found) == 1:
            kept.append(found[0])
        else:
            crossing.setdefault(rule_id, set()).add(key)
            evidence.extend(i for a in found for i in a.evidence.event_ids)
    correlation_rows = [i for _, result in pieces for i in result.correlation_rows]
    sliced_rows = {i for part, result in pieces if part.slices for i in result.correlation_rows}
    if not crossing and not correlation_rows:
        return kept + _fold_with([], folded)
    whole = replace(pieces[0][0], principals=None, slices=(), events=0)
    events = read_partition(EventLake(whole.lake_root), whole, ids=[*evidence, *correlation_rows])
    if crossing:
        rules = [r for r in active if r.meta.rule_id in crossing]
        rows = events[events["id"].isin(set(evidence))].reset_index(drop=True)
        kept.extend(a for a in run_rules(rows, rules) if a.dedup_key in crossing[a.rule_id or ""])
    later = deferred(active, "principal")
    if correlation_rows and later:
        rows = events[events["id"].isin(set(correlation_rows))].reset_index(drop=True)
        ids = {r.meta.rule_id for r in later}
        kept.extend(a for a in run_rules(rows, later) if a.rule_id in ids)
    by_principal = [r for r in deferred(active, None) if r not in later]
    if sliced_rows and by_principal:
        # Only sliced ranges deferred these; they hold every row of their principals.
        rows = events[events["id"].isin(sliced_rows)].reset_index(drop=True)
        ids = {r.meta.rule_id for r in by_principal}
        found = [a for a in run_rules(rows, by_principal) if a.rule_id in ids]
        return kept + _fold_with(found, folded)
    return kept + _fold_with([], folded)


def _fold_with(found: list[Alert], folded: dict[str, list[Alert]]) -> list[Alert]:
    """Correlation alerts of one key from several pieces folded in time order, as one batch
    folds them."""
    for alert in found:
        folded.setdefault(alert.dedup_key, []).append(alert)
    return [a for found in folded.values() for a in fold(sorted(found, key=lambda a: a.first_seen))]
