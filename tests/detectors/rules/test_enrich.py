"""Enrichment fields: usable in detections like columns."""

from __future__ import annotations

import json

import numpy as np

from detectors.rules.engine import match_rules
from detectors.rules.enrich import (
    foreign_policy_principal,
    foreign_request_account,
    patch_operations,
    policy_principals,
    principal_is_human,
    public_grant,
    public_members,
    request_accounts,
    trust_accounts,
    world_open_admin_ports,
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


FOREIGN = "999988887777"


def test_request_accounts_reads_arns_at_any_depth_and_ecr_registry_ids():
    record = {
        "requestParameters": {
            "rule": "nightly",
            "targets": [
                {"id": "1", "arn": f"arn:aws:lambda:eu-central-1:{ACCOUNT}:function:ok"},
                {"id": "2", "arn": f"arn:aws:events:eu-central-1:{FOREIGN}:event-bus/x"},
            ],
            "replicationConfiguration": {
                "rules": [{"destinations": [{"region": "eu-west-1", "registryId": ACCOUNT}]}]
            },
            "s3": "arn:aws:s3:::bucket-without-account",
        }
    }
    assert request_accounts(record, ACCOUNT) == [ACCOUNT, FOREIGN]
    assert foreign_request_account(record, ACCOUNT) == [True]


def test_foreign_request_account_is_false_when_every_arn_is_the_events_own():
    record = {
        "requestParameters": {
            "destinationArn": f"arn:aws:logs:eu-central-1:{ACCOUNT}:destination:siem",
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/cwl-to-kinesis",
        }
    }
    assert foreign_request_account(record, ACCOUNT) == [False]
    assert foreign_request_account({"requestParameters": {}}, ACCOUNT) == [False]


def test_policy_principals_leaves_out_a_wildcard_narrowed_by_a_condition():
    doc = {
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"},
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "ecr:BatchGetImage",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
            },
            {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:root"}},
        ]
    }
    assert policy_principals({"requestParameters": {"policyText": doc}}, ACCOUNT) == ["*"]
    doc["Statement"] = doc["Statement"][1:]
    assert policy_principals({"requestParameters": {"policyText": doc}}, ACCOUNT) == []


def test_foreign_policy_principal_reads_a_policy_given_as_json_text():
    principals = [f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{FOREIGN}:role/puller"]
    statement = {"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "ecr:BatchGetImage"}
    text = json.dumps({"Statement": [statement]})
    record = {"requestParameters": {"policyText": text}}
    assert policy_principals(record, ACCOUNT) == [ACCOUNT, FOREIGN]
    assert foreign_policy_principal(record, ACCOUNT) == [True]
    own = {"requestParameters": {"policy": text.replace(FOREIGN, ACCOUNT)}}
    assert foreign_policy_principal(own, ACCOUNT) == [False]


def _ingress(*permissions):
    return {"requestParameters": {"groupId": "sg-1", "ipPermissions": {"items": list(permissions)}}}


def _perm(low, high, cidrs=(), v6=(), proto="tcp"):
    return {
        "ipProtocol": proto,
        "fromPort": low,
        "toPort": high,
        "ipRanges": {"items": [{"cidrIp": c} for c in cidrs]},
        "ipv6Ranges": {"items": [{"cidrIpv6": c} for c in v6]},
    }


def test_world_open_admin_ports_reads_port_and_cidr_of_the_same_permission():
    record = _ingress(_perm(443, 443, ["0.0.0.0/0"]), _perm(22, 22, ["10.0.0.0/8"]))
    assert world_open_admin_ports(record, ACCOUNT) == []
    record = _ingress(_perm(443, 443, ["0.0.0.0/0"]), _perm(3300, 3400, v6=["::/0"]))
    assert world_open_admin_ports(record, ACCOUNT) == ["3306", "3389"]
    record = _ingress(_perm(None, None, ["0.0.0.0/0"], proto="-1"))
    assert world_open_admin_ports(record, ACCOUNT) == ["all"]


def test_patch_operations_joins_op_path_and_value_at_top_level_or_one_level_down():
    ops = [
        {"op": "replace", "path": "/authorizationType", "value": "NONE"},
        {"op": "remove", "path": "/accessLogSettings"},
    ]
    top = {"requestParameters": {"restApiId": "a1", "patchOperations": ops}}
    nested = {
        "requestParameters": {"restApiId": "a1", "updateMethodInput": {"patchOperations": ops}}
    }
    expected = ["replace /authorizationType NONE", "remove /accessLogSettings"]
    assert patch_operations(top, ACCOUNT) == expected
    assert patch_operations(nested, ACCOUNT) == expected
    assert patch_operations({"requestParameters": {"restApiId": "a1"}}, ACCOUNT) == []
