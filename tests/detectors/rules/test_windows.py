"""Streamed correlations keep the columns their fields are computed from across slices."""

from __future__ import annotations

from datetime import timedelta

from detectors.rules.context import columns_of
from detectors.rules.engine import match_rules
from detectors.rules.windows import SlicedCorrelations
from tests.detectors.rules.rulekit import load_docs, rule_yaml
from tests.factories import BASE_TIME, event, events


def test_columns_of_an_alias_are_its_columns_and_the_row_scope():
    assert columns_of("eventName") == {"raw_action", "action", "provider", "principal"}
    assert columns_of("principal") == {"principal"}
    assert "raw" in columns_of("requestParameters.functionName")


def test_value_count_over_a_raw_field_alias_counts_values_carried_from_an_earlier_slice(
    tmp_path,
):
    base = rule_yaml({"s": {"outcome": "failure"}, "condition": "s"})
    correlation = {
        "title": "many different calls refused",
        "id": "6f0c9a3e-2b1d-4c5e-8f7a-9b0c1d2e3f40",
        "name": "many_refused",
        "correlation": {
            "type": "value_count",
            "rules": [base["name"]],
            "group-by": ["principal"],
            "timespan": "1h",
            "condition": {"gte": 5, "field": "eventName"},
        },
        "level": "high",
    }
    rules = load_docs(tmp_path, base, correlation)
    windows = SlicedCorrelations(rules, "principal")
    assert windows.ids() == {"many_refused"}

    def refused(minute: int, name: str) -> dict:
        return event(
            time=BASE_TIME + timedelta(minutes=minute),
            outcome="failure",
            raw_action=f"{name}20150331",
            action=name,
        )

    first = events(*[refused(m, f"List{m}") for m in range(3)])
    ctx, _ = match_rules(first, rules)
    assert windows.add(ctx, BASE_TIME + timedelta(minutes=10)) == []
    second = events(*[refused(m, f"List{m}") for m in range(10, 12)])
    ctx, _ = match_rules(second, rules)
    found = windows.add(ctx, BASE_TIME + timedelta(minutes=20))
    assert len(found) == 5  # the three carried rows kept their eventName
