"""Enrichment fields: usable in detections like columns."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.rules.engine import match_rules
from detectors.rules.enrich import (
    long_term_key,
    principal_is_human,
    public_grant,
    public_members,
    trust_accounts,
)
from tests.detectors.rules.rulekit import sigma
from tests.factories import ACCOUNT, event, events

LAYER = "arn:aws:lambda:eu-central-1:{}:layer:utils:3"


def test_foreign_layer_compares_layer_account_with_event_account(tmp_path):
    rule = sigma(tmp_path, {"s": {"foreign_layer": True}, "condition": "s"})
    rows = [
        event(raw={"requestParameters": {"layers": [LAYER.format("999988887777")]}}),
        event(raw={"requestParameters": {"layers": [LAYER.format(ACCOUNT)]}}),
        event(raw={"responseElements": {"layers": [{"arn": LAYER.format("999988887777")}]}}),
        event(raw={"requestParameters": {}}),
    ]
    _, matches = match_rules(events(*rows), [rule])
    assert np.flatnonzero(matches[rule.meta.rule_id]).tolist() == [0, 2]


def test_principal_is_human_excludes_ci_roles():
    rows = events(
        event(principal_type="user", principal=f"arn:aws:iam::{ACCOUNT}:user/sam"),
        event(principal_type="user", principal=f"arn:aws:iam::{ACCOUNT}:user/github-deploy"),
        event(principal_type="role", principal=f"arn:aws:iam::{ACCOUNT}:role/billing-fn"),
        event(
            principal_type="role",
            principal=f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/AWSReservedSSO_Admin_1",
        ),
        event(
            provider="gcp",
            principal_type="service_account",
            principal="x@p.iam.gserviceaccount.com",
        ),
        event(provider="gcp", principal_type="user", principal="kim@example.org"),
    )
    assert principal_is_human(rows).tolist() == [True, False, False, True, False, True]


def test_trust_accounts_reads_policy_document_string():
    doc = (
        '{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::999988887777:root"]},'
        '"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}'
    )
    record = {"requestParameters": {"policyDocument": doc}}
    assert trust_accounts(record, ACCOUNT) == ["999988887777", "*"]


def _set_iam_policy(deltas=None, bindings=None):
    proto = {"request": {"policy": {"bindings": bindings or []}}}
    if deltas is not None:
        proto["serviceData"] = {"policyDelta": {"bindingDeltas": deltas}}
    return {"protoPayload": proto}


def test_public_members_reads_each_delta_action_with_its_member():
    removed_public_added_private = _set_iam_policy(
        [
            {"action": "REMOVE", "member": "allUsers"},
            {"action": "ADD", "member": "serviceAccount:sa@p.iam.gserviceaccount.com"},
        ]
    )
    granted = _set_iam_policy([{"action": "ADD", "member": "allAuthenticatedUsers"}])

    assert public_members(removed_public_added_private, None) == []
    assert public_grant(removed_public_added_private, None) == [False]
    assert public_members(granted, None) == ["allAuthenticatedUsers"]


def test_public_members_falls_back_to_the_requested_policy_without_a_delta():
    record = _set_iam_policy(bindings=[{"role": "roles/run.invoker", "members": ["allUsers"]}])
    hostile = {"protoPayload": {"serviceData": {"policyDelta": {"bindingDeltas": "ADD allUsers"}}}}

    assert public_members(record, None) == ["allUsers"]
    assert public_grant(hostile, None) == [False]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"userIdentity": {"type": "IAMUser", "accessKeyId": "AKIAIOSFODNN7EXAMPLE"}}, [True]),
        ({"userIdentity": {"type": "AssumedRole", "accessKeyId": "ASIAEXAMPLE"}}, [False]),
        ({"userIdentity": {"type": "AWSService"}}, [False]),
        (
            {
                "protoPayload": {
                    "authenticationInfo": {
                        "principalEmail": "ci@p.iam.gserviceaccount.com",
                        "serviceAccountKeyName": "//iam.googleapis.com/projects/p/serviceAccounts/"
                        "ci@p.iam.gserviceaccount.com/keys/0123abcd",
                    }
                }
            },
            [True],
        ),
        (
            {
                "protoPayload": {
                    "authenticationInfo": {"principalEmail": "fn@p.iam.gserviceaccount.com"}
                }
            },
            [False],
        ),
        ({"userIdentity": "AKIA-in-a-string"}, [False]),
    ],
)
def test_long_term_key_is_an_aws_akia_key_or_a_google_service_account_key(record, expected):
    assert long_term_key(record, "111122223333") == expected
