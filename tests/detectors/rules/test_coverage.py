"""ATT&CK coverage of the loaded rules, and the Navigator layer it writes."""

from __future__ import annotations

import re
from typing import Any

from detectors.rules.attack import TACTICS, attack
from detectors.rules.coverage import UNKNOWN, by_tactic, coverage, navigator_layer
from detectors.rules.loader import load_rules
from tests.detectors.rules.rulekit import load_docs, rule_yaml

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")


def check_layer(layer: dict[str, Any]) -> None:
    """The ATT&CK Navigator layer format 4.5, as its specification lists it."""
    assert isinstance(layer["name"], str)
    assert layer["name"]
    assert layer["versions"]["layer"] == "4.5"
    assert isinstance(layer["versions"]["attack"], str)
    major, minor, _ = layer["versions"]["navigator"].split(".")
    assert (int(major), int(minor)) >= (4, 9)
    assert layer["domain"] == "enterprise-attack"
    assert isinstance(layer["description"], str)
    for entry in layer["techniques"]:
        assert _TECHNIQUE.match(entry["techniqueID"])
        assert isinstance(entry["score"], int | float)
        assert isinstance(entry["comment"], str)
        assert isinstance(entry["enabled"], bool)
        assert "tactic" not in entry or isinstance(entry["tactic"], str)
        for item in entry["metadata"]:
            assert isinstance(item["name"], str)
            assert isinstance(item["value"], str)
    gradient = layer["gradient"]
    assert len(gradient["colors"]) >= 2
    assert all(_HEX.match(c) for c in gradient["colors"])
    assert gradient["maxValue"] > gradient["minValue"]
    for item in layer["legendItems"]:
        assert isinstance(item["label"], str)
        assert _HEX.match(item["color"])


def test_the_attack_map_names_techniques_and_their_tactics():
    known = attack()
    assert known.version.startswith("18")
    assert known.name("T1098.001") == "Account Manipulation: Additional Cloud Credentials"
    manipulation, cloud_logs = known.get("t1098"), known.get("T1562.008")
    assert manipulation is not None
    assert manipulation.tactics == ("persistence", "privilege-escalation")
    assert cloud_logs is not None
    assert cloud_logs.tactics == ("defense-evasion",)
    assert known.get("T9999") is None
    assert all(set(t.tactics) <= set(TACTICS) and t.tactics for t in known.techniques.values())


def test_techniques_are_grouped_under_attacks_tactics_not_the_rules_tags(tmp_path):
    docs = [
        rule_yaml({"s": {"action": "A"}, "condition": "s"},
                  tags=["attack.initial_access", "attack.t1098.001"]),
        rule_yaml({"s": {"action": "B"}, "condition": "s"},
                  tags=["attack.persistence", "attack.t1098.001"]),
        rule_yaml({"s": {"action": "C"}, "condition": "s"}, tags=["attack.t9999"]),
    ]  # fmt: skip
    rules = load_docs(tmp_path, *docs)
    covered = coverage(rules)
    assert [c.technique for c in covered] == ["T1098.001", "T9999"]
    assert covered[0].rules == tuple(sorted(r.meta.rule_id for r in rules[:2]))
    assert covered[0].tactics == ("persistence", "privilege-escalation")
    assert covered[0].name == "Account Manipulation: Additional Cloud Credentials"
    groups = by_tactic(covered)
    assert list(groups) == ["persistence", "privilege-escalation", UNKNOWN]
    assert [c.technique for c in groups[UNKNOWN]] == ["T9999"]


def test_a_correlation_base_rule_covers_nothing_on_its_own(tmp_path):
    base = rule_yaml({"s": {"action": "A"}, "condition": "s"}, tags=["attack.t1110"])
    correlation = {
        "title": "many",
        "id": "7b7f1d0e-1c1a-4b8e-9a77-0c6d5e4f3a21",
        "name": "many_a",
        "tags": ["attack.t1078"],
        "correlation": {
            "type": "event_count",
            "rules": [base["name"]],
            "group-by": ["principal"],
            "timespan": "5m",
            "condition": {"gte": 3},
        },
        "level": "high",
    }
    covered = coverage(load_docs(tmp_path, base, correlation))
    assert [(c.technique, c.rules) for c in covered] == [("T1078", ("many_a",))]


def test_navigator_layer_of_the_pack_and_a_user_rule(tmp_path):
    doc = rule_yaml({"s": {"action": "A"}, "condition": "s"}, tags=["attack.t9999"])
    load_docs(tmp_path, doc)
    loaded = load_rules([tmp_path])
    layer = navigator_layer(coverage(loaded.rules), name="functrail", description="test")
    check_layer(layer)
    by_id = {t["techniqueID"]: t for t in layer["techniques"]}
    assert by_id["T9999"]["comment"] == doc["name"]
    assert by_id["T1190"]["comment"].startswith("Exploit Public-Facing Application: ")
    assert by_id["T9999"]["score"] == 1
    assert by_id["T1190"]["score"] >= 2  # several pack rules cover public exposure
    assert layer["gradient"]["maxValue"] == max(t["score"] for t in layer["techniques"])
