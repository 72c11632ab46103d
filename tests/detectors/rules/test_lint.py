"""Lint: the silent-miss class of bug and the pack's hygiene rules."""

from __future__ import annotations

import yaml

from detectors.rules.lint import lint_rules
from detectors.rules.loader import load_rules
from tests.detectors.rules.rulekit import rule_yaml
from tests.factories import cloudtrail_record


def lint_one(tmp_path, doc):
    (tmp_path / "r.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return [f.message for f in lint_rules(load_rules([tmp_path], builtin=False))]


def good_tests():
    return {
        "positive": [
            cloudtrail_record(
                eventName="AddPermission20150331v2", requestParameters={"principal": "*"}
            )
        ],
        "negative": [cloudtrail_record()],
    }


def test_clean_rule_has_no_findings(tmp_path):
    doc = rule_yaml(
        {"s": {"action": "AddPermission", "requestParameters.principal": "\\*"}, "condition": "s"},
        functrail={"tests": good_tests()},
    )
    assert lint_one(tmp_path, doc) == []


def test_field_absent_from_every_test_event_is_flagged(tmp_path):
    doc = rule_yaml(
        {"s": {"action": "AddPermission", "requestParameters.principle": "\\*"}, "condition": "s"},
        functrail={"tests": good_tests()},
    )
    (message,) = lint_one(tmp_path, doc)
    assert "requestParameters.principle" in message
    assert "absent" in message


def test_action_with_api_version_suffix_or_gcp_method_is_flagged(tmp_path):
    doc = rule_yaml(
        {
            "s": {"action": ["AddPermission20150331v2", "google.iam.v1.IAMPolicy.SetIamPolicy"]},
            "condition": "s",
        },
        functrail={"tests": good_tests()},
    )
    messages = lint_one(tmp_path, doc)
    assert any("API-version suffix" in m for m in messages)
    assert any("fully qualified method name" in m for m in messages)


def test_lone_wildcard_is_flagged(tmp_path):
    doc = rule_yaml(
        {"s": {"action": "AddPermission", "requestParameters.principal": "*"}, "condition": "s"},
        functrail={"tests": good_tests()},
    )
    assert any("wildcard" in m for m in lint_one(tmp_path, doc))


def test_missing_tags_runbook_and_tests_are_flagged(tmp_path):
    doc = rule_yaml(
        {"s": {"action": "AddPermission"}, "condition": "s"}, tags=["attack.persistence"]
    )
    doc["functrail"] = {}
    messages = lint_one(tmp_path, doc)
    assert any("ATT&CK" in m for m in messages)
    assert any("runbook" in m for m in messages)
    assert any("positive" in m for m in messages)
    assert any("negative" in m for m in messages)


def test_duplicate_names_and_unparsable_files_are_flagged(tmp_path):
    doc = rule_yaml({"s": {"action": "X"}, "condition": "s"}, functrail={"tests": good_tests()})
    (tmp_path / "a.yml").write_text(yaml.safe_dump(doc))
    (tmp_path / "b.yml").write_text(
        yaml.safe_dump({**doc, "id": "5b0d7c7e-0000-4000-8000-0000000000ff"})
    )
    (tmp_path / "c.yml").write_text("title: [unclosed\n")
    messages = [f.message for f in lint_rules(load_rules([tmp_path], builtin=False))]
    assert any("is already a rule's, in" in m and "a.yml" in m for m in messages)
    assert any("parse" in m for m in messages)


def levels(tmp_path, doc, *, pack: bool = False):
    """{message: level} of one rule's findings, as a user rule or as a pack rule."""
    import detectors.rules.loader as loader

    (tmp_path / "r.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    if pack:  # the pack is whatever lies under PACK_DIR
        original = loader.PACK_DIR
        loader.PACK_DIR = tmp_path
        try:
            loaded = load_rules([tmp_path], builtin=False)
        finally:
            loader.PACK_DIR = original
    else:
        loaded = load_rules([tmp_path], builtin=False)
    return {f.message: f.level for f in lint_rules(loaded)}


def bare_rule():
    doc = rule_yaml({"s": {"action": "AddPermission"}, "condition": "s"}, tags=["attack.x"])
    doc["functrail"] = {}
    return doc


def test_user_rule_without_tests_runbook_or_technique_only_warns(tmp_path):
    found = levels(tmp_path, bare_rule())
    assert len(found) == 4
    assert set(found.values()) == {"warning"}


def test_pack_rule_without_tests_runbook_or_technique_is_an_error(tmp_path):
    found = levels(tmp_path, bare_rule(), pack=True)
    assert len(found) == 4
    assert set(found.values()) == {"error"}


def test_user_rule_without_a_name_is_not_asked_for_a_snake_case_name(tmp_path):
    doc = bare_rule()
    del doc["name"]
    assert not any("snake_case" in m for m in levels(tmp_path, doc))
    doc["name"] = "Not-Snake"
    assert levels(tmp_path, doc)["rule name must be snake_case ([a-z][a-z0-9_]*)"] == "warning"


def test_a_value_that_can_never_match_is_an_error_for_a_user_rule_too(tmp_path):
    doc = bare_rule()
    doc["detection"] = {"s": {"action": "AddPermission20150331v2"}, "condition": "s"}
    found = levels(tmp_path, doc)
    [suffix] = [m for m in found if "API-version suffix" in m]
    assert found[suffix] == "error"


def test_a_technique_attack_does_not_know_is_a_pack_error_and_a_user_warning(tmp_path):
    from detectors.rules.lint import lint_rules
    from detectors.rules.loader import Loaded
    from tests.detectors.rules.rulekit import load_docs, rule_yaml

    doc = rule_yaml({"s": {"action": "A"}, "condition": "s"}, tags=["attack.t1098", "attack.t9999"])
    rules = load_docs(tmp_path, doc)
    findings = [f for f in lint_rules(Loaded(rules, [])) if "T9999" in f.message]
    assert len(findings) == 1
    assert findings[0].level == ("error" if rules[0].meta.builtin else "warning")
    assert not [f for f in lint_rules(Loaded(rules, [])) if "T1098 " in f.message]
