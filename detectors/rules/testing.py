"""Run a rule's own test records through the real normalizer and the engine.

Test records are raw (a CloudTrail record or a Cloud Logging LogEntry, as logged), so a rule
written against a field the normalizer spells differently fails here instead of silently
never firing in production.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd

from detectors.rules.engine import match_rules
from detectors.rules.model import Matches, Rule
from pipelines.normalize import normalize_blob
from pipelines.settings import Settings


@dataclass
class RuleTestResult:
    rule_id: str
    failures: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


def normalize_records(
    records: list[dict[str, Any]], name: str, settings: Settings | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Raw test records -> events, plus a message per record the normalizer refused."""
    blob = b"\n".join(orjson.dumps(r) for r in records)
    batch = normalize_blob(blob, name, settings=settings)
    problems = [f"test record rejected: {r.line()}" for r in batch.rejects]
    if not problems and len(batch.events) != len(records):
        problems.append(
            f"{name}: {len(records)} test records gave {len(batch.events)} events"
            " (duplicate eventID / insertId?)"
        )
    return batch.events, problems


def _hit_rows(matches: Matches) -> set[int]:
    if isinstance(matches, list):
        return {int(r) for group in matches for r in group}
    return {int(r) for r in np.flatnonzero(matches)}


def _fired(matches: Matches) -> bool:
    return bool(matches) if isinstance(matches, list) else bool(np.any(matches))


def run_rule_tests(rule: Rule, settings: Settings | None = None) -> RuleTestResult:
    """Check every positive fires and no negative does; never raises for a broken rule."""
    meta = rule.meta
    result = RuleTestResult(meta.rule_id)
    tests = meta.tests
    if meta.builtin:  # a user's rule without tests is a lint warning, not a failing test
        if not tests.has_positive:
            result.failures.append("no positive test records")
        if not tests.negative:
            result.failures.append("no negative test records")
    grouped = meta.kind == "correlation"
    try:
        if tests.positive:
            if grouped:  # the list is one set of records that together must fire
                _check_set(rule, tests.positive, "positive", result, settings)
            else:
                events, problems = normalize_records(
                    tests.positive, f"{meta.rule_id} positive", settings
                )
                result.failures.extend(problems)
                _, matches = match_rules(events, [rule])
                hit = _hit_rows(matches[meta.rule_id])
                for i in range(len(events)):
                    result.checked += 1
                    if i not in hit:
                        result.failures.append(
                            f"positive record {i} (id {events['id'].iat[i]}) did not match"
                        )
        for n, records in enumerate(tests.positive_sets):
            _check_set(rule, records, f"positive_sets[{n}]", result, settings)
        if tests.negative:
            events, problems = normalize_records(
                tests.negative, f"{meta.rule_id} negative", settings
            )
            result.failures.extend(problems)
            _, matches = match_rules(events, [rule])
            result.checked += len(tests.negative)
            grouped_result = grouped or isinstance(matches[meta.rule_id], list)
            if grouped_result and _fired(matches[meta.rule_id]):
                result.failures.append("negative records together fired")
            for i in sorted(_hit_rows(matches[meta.rule_id])) if not grouped else []:
                result.failures.append(f"negative record {i} (id {events['id'].iat[i]}) matched")
    except Exception as exc:  # a rule that crashes is a failing rule, reported, not a crash
        result.failures.append(f"error while evaluating: {type(exc).__name__}: {exc}")
    return result


def _check_set(
    rule: Rule,
    records: list[dict[str, Any]],
    label: str,
    result: RuleTestResult,
    settings: Settings | None,
) -> None:
    events, problems = normalize_records(records, f"{rule.meta.rule_id} {label}", settings)
    result.failures.extend(problems)
    _, matches = match_rules(events, [rule])
    result.checked += 1
    if not _fired(matches[rule.meta.rule_id]):
        result.failures.append(f"{label}: the {len(records)} records together did not fire")
