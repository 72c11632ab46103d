"""The engine: prefiltering, alerts (titles, entities, evidence, dedup), registry state."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.alert import EVIDENCE_SAMPLE_LIMIT, dedup_key
from detectors.rules.context import BatchContext
from detectors.rules.engine import run_rules
from detectors.rules.registry import RuleRegistry, UnknownRule
from tests.detectors.rules.rulekit import sigma
from tests.factories import event, events

PUBLIC = {
    "selection": {
        "service": "lambda.amazonaws.com",
        "action": "AddPermission",
        "requestParameters.principal": "\\*",
    },
    "condition": "selection",
}


def public_event(**fields):
    raw = {"requestParameters": {"principal": "*", "functionName": fields.get("resource", "fn")}}
    return event(action="AddPermission", raw=raw, **fields)


def test_raw_is_parsed_only_for_rows_that_pass_the_column_prefilter(tmp_path):
    rule = sigma(tmp_path, PUBLIC)
    batch = events(public_event(), *[event(action="GetFunction", raw={"x": 1}) for _ in range(50)])
    ctx = BatchContext(batch)
    rule.prepare(ctx)
    ctx.load()
    mask = rule.evaluate(ctx)
    assert np.flatnonzero(mask).tolist() == [0]
    assert set(ctx._records) | set(ctx._partial) == {0}  # parsed or path-decoded


def test_alert_carries_contract_fields_and_evidence(tmp_path):
    rule = sigma(
        tmp_path,
        PUBLIC,
        functrail={"title": "{principal} opened {resource} in {account}", "score": 0.9},
    )
    first = public_event(resource="billing")
    (alert,) = run_rules(events(first, event()), [rule])
    assert alert.detector == "rule"
    assert alert.rule_id == rule.meta.rule_id
    assert alert.title == f"{first['principal']} opened billing in {first['account']}"
    assert alert.severity == "high"
    assert alert.score == 0.9
    assert alert.tags == ["T1190"]
    assert alert.runbook == "check it"
    assert alert.evidence.event_ids == [first["id"]]
    assert alert.evidence.sample[0]["id"] == first["id"]
    assert alert.evidence.sample[0]["raw"]["requestParameters"]["principal"] == "*"
    assert alert.dedup_key == dedup_key(
        "rule", rule.meta.rule_id, first["account"], first["principal"], "billing"
    )
    assert alert.first_seen == alert.last_seen == first["time"]


def test_repeats_fold_into_one_alert_per_dedup_key(tmp_path):
    rule = sigma(tmp_path, PUBLIC, functrail={"dedup": ["account", "resource"]})
    rows = [public_event(resource="a") for _ in range(7)] + [public_event(resource="b")]
    alerts = run_rules(events(*rows), [rule])
    by_resource = {a.resource: a for a in alerts}
    assert set(by_resource) == {"a", "b"}
    a = by_resource["a"]
    assert a.count == 7
    assert a.evidence.event_ids == [r["id"] for r in rows[:7]]
    assert len(a.evidence.sample) == EVIDENCE_SAMPLE_LIMIT
    assert a.first_seen == rows[0]["time"]
    assert a.last_seen == rows[6]["time"]


@pytest.mark.parametrize(
    "hostile",
    [
        "quote\" ' {principal} {0} %s",
        "line\nbreak\r\x1b[31mred\x07",
        "<script>alert(1)</script>",
        "A" * 100_000,
    ],
)
def test_hostile_values_neither_break_evaluation_nor_titles(tmp_path, hostile):
    rule = sigma(
        tmp_path,
        {"s": {"user_agent|contains": "a"}, "condition": "s"},
        functrail={"title": "{principal} via {user_agent} {requestParameters.name}"},
    )
    row = event(user_agent=hostile + "a", raw={"requestParameters": {"name": hostile}})
    (alert,) = run_rules(events(row), [rule])
    for control in ("\n", "\r", "\x1b", "\x07"):
        assert control not in alert.title
    assert len(alert.title) < 1200
    assert "{0}" in alert.title or "{" not in hostile  # inserted as text, not re-formatted


def test_hostile_value_longer_than_limit_is_truncated_in_title(tmp_path):
    rule = sigma(
        tmp_path,
        {"s": {"action": "GetFunction"}, "condition": "s"},
        functrail={"title": "by {user_agent}"},
    )
    (alert,) = run_rules(events(event(user_agent="B" * 100_000)), [rule])
    assert alert.title == "by " + "B" * 200 + "…"


def test_long_dedup_entity_is_hashed_in_key(tmp_path):
    rule = sigma(tmp_path, {"s": {"action": "GetFunction"}, "condition": "s"})
    (alert,) = run_rules(events(event(resource="r" * 5000)), [rule])
    assert len(alert.dedup_key) < 300
    assert "sha256:" in alert.dedup_key


def test_missing_title_field_renders_question_mark(tmp_path):
    rule = sigma(
        tmp_path,
        {"s": {"action": "GetFunction"}, "condition": "s"},
        functrail={"title": "{nope.nothing} by {session}"},
    )
    (alert,) = run_rules(events(event(session=None)), [rule])
    assert alert.title == "? by ?"


def test_registry_disables_rules_without_global_state(tmp_path):
    rule = sigma(tmp_path, PUBLIC)
    one = RuleRegistry([rule])
    other = RuleRegistry([rule], enabled={rule.meta.rule_id: False})
    one.set_enabled(rule.meta.rule_id, False)
    assert run_rules(events(public_event()), one) == []
    one.set_enabled(rule.meta.rule_id, True)
    assert len(run_rules(events(public_event()), one)) == 1
    assert other.state == {rule.meta.rule_id: False}
    with pytest.raises(UnknownRule):
        one.set_enabled("no_such_rule", True)


def test_empty_batch_gives_no_alerts(tmp_path):
    rule = sigma(tmp_path, PUBLIC)
    assert run_rules(events(), [rule]) == []


def test_bad_raw_json_reads_as_missing_fields(tmp_path):
    rule = sigma(tmp_path, PUBLIC)
    assert run_rules(events(event(action="AddPermission", raw="{not json")), [rule]) == []


def test_user_rule_with_a_pack_rule_id_is_a_load_error_naming_both_files(tmp_path):
    import yaml

    from detectors.rules.loader import load_registry
    from tests.detectors.rules.rulekit import rule_yaml

    clash = rule_yaml(
        {"s": {"action": "X"}, "condition": "s"}, name="aws_lambda_public_add_permission"
    )
    (tmp_path / "clash.yml").write_text(yaml.safe_dump(clash))
    registry, errors = load_registry([tmp_path])
    assert "aws_lambda_public_add_permission" in registry
    source = registry.get("aws_lambda_public_add_permission").meta.source
    assert source is not None
    assert source.name != "clash.yml"
    [error] = [e for e in errors if "aws_lambda_public_add_permission" in e.reason]
    assert error.source.endswith("clash.yml")
    assert str(source) in error.reason  # the pack rule's file
