"""Sigma semantics of the compiled predicates, one modifier or condition form at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.rules.context import BatchContext
from detectors.rules.engine import match_rules
from detectors.rules.sigma_rules import SigmaDetectionRule
from tests.detectors.rules.rulekit import sigma
from tests.factories import event, events


def hits(tmp_path: Path, detection: dict, *rows: dict) -> list[int]:
    rule = sigma(tmp_path, detection)
    _, matches = match_rules(events(*rows), [rule])
    return np.flatnonzero(matches[rule.meta.rule_id]).tolist()


def test_plain_value_matches_case_insensitively(tmp_path):
    rows = [event(action="AddPermission"), event(action="addpermission"), event(action="Other")]
    assert hits(tmp_path, {"s": {"action": "ADDPERMISSION"}, "condition": "s"}, *rows) == [0, 1]


def test_value_list_is_or(tmp_path):
    rows = [event(action="A"), event(action="B"), event(action="C")]
    assert hits(tmp_path, {"s": {"action": ["a", "c"]}, "condition": "s"}, *rows) == [0, 2]


@pytest.mark.parametrize(
    ("modifier", "value", "expected"),
    [
        ("contains", "Perm", [0, 1]),
        ("startswith", "add", [0]),
        ("endswith", "mission", [0, 1]),
        ("re", "^Add.*n$", [0]),
    ],
)
def test_string_modifiers(tmp_path, modifier, value, expected):
    rows = [event(action="AddPermission"), event(action="RemovePermission"), event(action="X")]
    detection = {"s": {f"action|{modifier}": value}, "condition": "s"}
    assert hits(tmp_path, detection, *rows) == expected


def test_regex_is_case_sensitive_unless_flagged(tmp_path):
    rows = [event(action="AddPermission")]
    assert hits(tmp_path, {"s": {"action|re": "^add"}, "condition": "s"}, *rows) == []
    assert hits(tmp_path, {"s": {"action|re|i": "^add"}, "condition": "s"}, *rows) == [0]


def test_contains_all_needs_every_value(tmp_path):
    rows = [event(user_agent="aws-cli/2 Python/3"), event(user_agent="aws-cli/2")]
    detection = {"s": {"user_agent|contains|all": ["aws-cli", "python"]}, "condition": "s"}
    assert hits(tmp_path, detection, *rows) == [0]


def test_wildcards_star_and_question_mark(tmp_path):
    rows = [event(resource="fn-a1"), event(resource="fn-ab1"), event(resource="fn_a1")]
    assert hits(tmp_path, {"s": {"resource": "fn-?1"}, "condition": "s"}, *rows) == [0]
    assert hits(tmp_path, {"s": {"resource": "fn-??1"}, "condition": "s"}, *rows) == [1]
    # an underscore or percent sign in a value is literal, not a LIKE wildcard
    assert hits(tmp_path, {"s": {"resource": "fn_a1"}, "condition": "s"}, *rows) == [2]
    assert hits(tmp_path, {"s": {"resource": "fn_a*"}, "condition": "s"}, *rows) == [2]
    assert hits(tmp_path, {"s": {"resource": "fn-*1"}, "condition": "s"}, *rows) == [0, 1]


def test_escaped_star_is_literal(tmp_path):
    rows = [
        event(raw={"requestParameters": {"principal": "*"}}),
        event(raw={"requestParameters": {"principal": "s3.amazonaws.com"}}),
    ]
    detection = {"s": {"requestParameters.principal": "\\*"}, "condition": "s"}
    assert hits(tmp_path, detection, *rows) == [0]


def test_cidr_on_source_ip(tmp_path):
    rows = [event(source_ip="10.1.2.3"), event(source_ip="192.0.2.1"), event(source_ip="lambda")]
    assert hits(tmp_path, {"s": {"source_ip|cidr": "10.0.0.0/8"}, "condition": "s"}, *rows) == [0]


def test_exists_on_raw_path(tmp_path):
    rows = [
        event(raw={"requestParameters": {"sourceArn": "arn:aws:s3:::b"}}),
        event(raw={"requestParameters": {}}),
        event(raw={"requestParameters": {"sourceArn": None}}),
    ]
    detection = {"s": {"requestParameters.sourceArn|exists": True}, "condition": "s"}
    assert hits(tmp_path, detection, *rows) == [0]
    detection = {"s": {"requestParameters.sourceArn|exists": False}, "condition": "s"}
    assert hits(tmp_path, detection, *rows) == [1, 2]


def test_fieldref_compares_two_fields(tmp_path):
    rows = [
        event(account="111122223333", raw={"userIdentity": {"accountId": "111122223333"}}),
        event(account="111122223333", raw={"userIdentity": {"accountId": "999988887777"}}),
    ]
    detection = {"s": {"userIdentity.accountId|fieldref": "account"}, "condition": "s"}
    assert hits(tmp_path, detection, *rows) == [0]


def test_fieldref_contains(tmp_path):
    rows = [
        event(account="111122223333", raw={"arn": "arn:aws:sqs:eu-central-1:111122223333:q"}),
        event(account="111122223333", raw={"arn": "arn:aws:sqs:eu-central-1:999988887777:q"}),
    ]
    detection = {"s": {"arn|fieldref|contains": "account"}, "condition": "s"}
    assert hits(tmp_path, detection, *rows) == [0]


def test_list_in_raw_matches_if_any_element_matches(tmp_path):
    rows = [
        event(raw={"p": {"bindings": [{"members": ["user:a@x.org", "allUsers"]}]}}),
        event(raw={"p": {"bindings": [{"members": ["user:a@x.org"]}, {"members": []}]}}),
    ]
    detection = {"s": {"p.bindings.members": "allusers"}, "condition": "s"}
    assert hits(tmp_path, detection, *rows) == [0]


def test_bool_and_number_values_in_raw(tmp_path):
    rows = [
        event(raw={"r": {"withDecryption": True, "n": 0}}),
        event(raw={"r": {"withDecryption": "true", "n": "0"}}),
        event(raw={"r": {"withDecryption": False, "n": 5}}),
    ]
    assert hits(tmp_path, {"s": {"r.withDecryption": True}, "condition": "s"}, *rows) == [0, 1]
    assert hits(tmp_path, {"s": {"r.n": 0}, "condition": "s"}, *rows) == [0, 1]
    assert hits(tmp_path, {"s": {"r.n|gte": 1}, "condition": "s"}, *rows) == [2]


def test_bool_column(tmp_path):
    rows = [event(read_only=True), event(read_only=False), event(read_only=None)]
    assert hits(tmp_path, {"s": {"read_only": False}, "condition": "s"}, *rows) == [1]


def test_null_value_matches_missing_field(tmp_path):
    rows = [event(error_code=None), event(error_code="AccessDenied")]
    assert hits(tmp_path, {"s": {"error_code": None}, "condition": "s"}, *rows) == [0]


def test_one_of_and_all_of_patterns_with_not_and_parentheses(tmp_path):
    rows = [
        event(action="A", resource="x"),
        event(action="B", resource="y"),
        event(action="C", resource="x"),
        event(action="A", resource="y"),
    ]
    detection = {
        "sel_a": {"action": "A"},
        "sel_b": {"action": "B"},
        "res_x": {"resource": "x"},
        "condition": "(1 of sel_* and not res_x) or (all of res_* and action_c)",
        "action_c": {"action": "C"},
    }
    assert hits(tmp_path, detection, *rows) == [1, 2, 3]


def test_not_of_raw_path_when_missing_is_true(tmp_path):
    rows = [event(raw={}), event(raw={"requestParameters": {"principalOrgID": "o-1"}})]
    detection = {
        "s": {"service": "lambda.amazonaws.com"},
        "org": {"requestParameters.principalOrgID|exists": True},
        "condition": "s and not org",
    }
    assert hits(tmp_path, detection, *rows) == [0]


def test_keyword_searches_the_raw_record_text_case_insensitively(tmp_path):
    rows = [
        event(raw={"requestParameters": {"note": "has Image-Policy.k8s.io/break-glass in it"}}),
        event(raw={"requestParameters": {"note": "nothing"}}),
    ]
    assert hits(
        tmp_path, {"kw": ["image-policy.k8s.io/break-glass"], "condition": "kw"}, *rows
    ) == [0]


def test_column_and_raw_selections_mixed_under_not_and_or(tmp_path):
    """Columns decide most rows before any raw record is read; where a raw path is needed the
    answer must be the same as reading every record."""
    rows = [
        event(action="A", raw={"requestParameters": {"x": "1"}}),  # a, x: kept
        event(action="A", raw={"requestParameters": {"x": "1", "y": "1"}}),  # a, x, y: kept
        event(action="B", raw={"requestParameters": {"x": "1"}}),  # x only: kept
        event(action="B", raw={"requestParameters": {"x": "1", "y": "1"}}),  # b and y: dropped
        event(action="C", raw={}),  # neither: dropped
        event(action="C", raw={"requestParameters": {"y": "1"}}),  # y alone: dropped
    ]
    detection = {
        "col_a": {"action": "A"},
        "col_b": {"action": "B"},
        "raw_x": {"requestParameters.x": "1"},
        "raw_y": {"requestParameters.y|exists": True},
        "condition": "(col_a or raw_x) and not (col_b and raw_y)",
    }
    assert hits(tmp_path, detection, *rows) == [0, 1, 2]
    only_columns = {**detection, "condition": "not (col_a or col_b) or (col_a and not col_b)"}
    assert hits(tmp_path, only_columns, *rows) == [0, 1, 4, 5]


@pytest.mark.parametrize(
    ("condition", "nothing", "expected"),
    [
        ("absent", True, []),  # an action the batch does not hold
        ("absent and present", True, []),
        ("absent or present", False, [0]),
        ("absent or gone", True, []),
        ("not absent", False, [0, 1]),  # every row: never told "nothing"
        ("absent_raw", False, []),  # a raw path: not known without reading records
        ("absent or absent_raw", False, []),
        ("present and not absent_raw", False, [0]),
    ],
)
def test_a_rule_is_told_to_match_nothing_only_when_no_row_can(
    tmp_path, condition, nothing, expected
):
    rows = [event(action="A", raw={"requestParameters": {"x": "1"}}), event(action="B")]
    detection = {
        "absent": {"eventName": "Z"},
        "gone": {"eventName": "Y"},
        "present": {"eventName": "A"},
        "absent_raw": {"requestParameters.x": "2"},
        "condition": condition,
    }
    rule = sigma(tmp_path, detection)
    assert isinstance(rule, SigmaDetectionRule)
    assert rule.tree.matches_nothing(BatchContext(events(*rows))) is nothing
    assert hits(tmp_path, detection, *rows) == expected


def test_rules_of_the_other_provider_match_nothing_before_any_row_is_read(tmp_path):
    rule = sigma(
        tmp_path,
        {"sel": {"gcp.audit.method_name": "SetIamPolicy"}, "condition": "sel"},
        logsource={"product": "gcp", "service": "gcp.audit"},
    )
    assert isinstance(rule, SigmaDetectionRule)
    assert rule.tree.matches_nothing(BatchContext(events(event(), event()))) is True
