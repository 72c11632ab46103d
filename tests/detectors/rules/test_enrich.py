"""Enrichment fields: usable in detections like columns."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detectors.rules.engine import match_rules
from detectors.rules.enrich import (
    container_images,
    default_service_account,
    external_grant,
    external_members,
    external_roles,
    foreign_image,
    foreign_images,
    foreign_policy_principal,
    foreign_request_account,
    granted_members,
    granted_roles,
    lifecycle_expires_all,
    long_term_key,
    oidc_trust_unscoped,
    org_policy_constraint,
    patch_operations,
    policy_foreign_accounts,
    policy_principals,
    principal_is_ci,
    principal_is_human,
    public_grant,
    public_members,
    queue_or_topic,
    request_accounts,
    runtime_service_account,
    secret_name,
    trust_accounts,
    world_open_admin_ports,
)
from tests.detectors.rules.rulekit import sigma
from tests.factories import ACCOUNT, event, events

LAYER = "arn:aws:lambda:eu-central-1:{}:layer:utils:3"
GITHUB_OIDC = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


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


def test_principal_is_ci_reads_the_principal_not_the_session_name_its_caller_chose():
    """Whoever calls AssumeRole names the session: an intruder naming theirs ``terraform`` must
    not pass for the pipeline (nor a person whose name is Jenkins)."""
    role = f"arn:aws:iam::{ACCOUNT}:role/"
    rows = events(
        event(principal_type="role", principal=role + "ci-deploy", session="4821"),
        event(principal_type="role", principal=role + "github-actions-oidc", session="run-77"),
        event(principal_type="role", principal=role + "AdminRole", session="terraform"),
        event(principal_type="role", principal=role + "AdminRole", session="GitHubActions"),
        event(principal_type="role", principal=role + "SampleRole", session="leroy.jenkins"),
    )
    assert principal_is_ci(rows).tolist() == [True, True, False, False, False]


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


def _policy(*statements, key="policy", as_text=True):
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return {"requestParameters": {key: json.dumps(document) if as_text else document}}


def test_policy_principals_reads_kms_secrets_and_s3_policies():
    foreign = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}}
    everyone = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}

    assert policy_principals(_policy(foreign), ACCOUNT) == ["999988887777"]
    assert policy_principals(_policy(everyone, key="resourcePolicy"), ACCOUNT) == ["*"]
    bucket = _policy(everyone, foreign, key="bucketPolicy", as_text=False)
    bucket["requestParameters"]["policy"] = [""]  # S3's query-string marker beside the policy
    assert policy_principals(bucket, ACCOUNT) == ["*", "999988887777"]
    assert policy_foreign_accounts(bucket, ACCOUNT) == ["999988887777"]


def test_a_star_principal_narrowed_by_an_account_condition_is_not_public():
    own_account = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "kms:Decrypt",
        "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "x"}},
    }
    org_only = {**own_account, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}}
    transport_only = {**own_account, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    other_account = {
        **own_account,
        "Condition": {"StringEquals": {"aws:PrincipalAccount": ["999988887777"]}},
    }

    assert policy_principals(_policy(own_account), ACCOUNT) == [ACCOUNT]
    assert foreign_policy_principal(_policy(own_account), ACCOUNT) == [False]
    assert policy_principals(_policy(org_only), ACCOUNT) == []
    assert policy_principals(_policy(transport_only), ACCOUNT) == ["*"]
    assert policy_foreign_accounts(_policy(other_account), ACCOUNT) == ["999988887777"]
    assert foreign_policy_principal(_policy(other_account), ACCOUNT) == [True]


def test_a_star_fenced_by_a_deny_of_everyone_else_is_not_public_and_a_world_cidr_fences_nothing():
    everyone = {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke"}
    endpoint_only = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "execute-api:Invoke",
        "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0a1b2c3d4e5f60718"}},
    }
    deny_named = {**endpoint_only, "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}
    world = {**everyone, "Condition": {"IpAddress": {"aws:SourceIp": ["0.0.0.0/0", "::/0"]}}}
    office = {**everyone, "Condition": {"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}}

    assert policy_principals(_policy(everyone, endpoint_only), ACCOUNT) == []
    assert policy_principals(_policy(everyone, deny_named), ACCOUNT) == ["*"]  # not a fence
    assert policy_principals(_policy(world), ACCOUNT) == ["*"]
    assert policy_principals(_policy(office), ACCOUNT) == []


def test_policy_principals_ignores_deny_statements_services_and_broken_documents():
    deny_all = {"Effect": "Deny", "Principal": "*", "Action": "*"}
    service = {"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}}

    assert policy_principals(_policy(deny_all, service), ACCOUNT) == []
    assert policy_principals({"requestParameters": {"policy": "{not json"}}, ACCOUNT) == []
    assert policy_principals({"requestParameters": None}, ACCOUNT) == []


QUEUE_URL = f"https://sqs.eu-central-1.amazonaws.com/{ACCOUNT}/orders-intake"
TOPIC_ARN = f"arn:aws:sns:eu-central-1:{ACCOUNT}:order-events"


def _queue_policy(*statements, **attributes):
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return {
        "requestParameters": {
            "queueUrl": QUEUE_URL,
            "attributes": {**attributes, "Policy": document},
        }
    }


def _topic_policy(*statements, name="Policy"):
    document = json.dumps({"Version": "2008-10-17", "Statement": list(statements)})
    params = {"topicArn": TOPIC_ARN, "attributeName": name, "attributeValue": document}
    return {"requestParameters": params}


def test_policy_principals_reads_sqs_and_sns_policy_attributes():
    everyone = {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}
    foreign = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:root"}}
    created = _queue_policy(foreign, VisibilityTimeout="60")  # CreateQueue: Policy among others

    assert policy_principals(_queue_policy(everyone), ACCOUNT) == ["*"]
    assert policy_principals(created, ACCOUNT) == [FOREIGN]
    assert policy_foreign_accounts(created, ACCOUNT) == [FOREIGN]
    assert policy_principals(_topic_policy(everyone), ACCOUNT) == ["*"]
    assert foreign_policy_principal(_topic_policy(foreign), ACCOUNT) == [True]
    # a topic (CreateTopic) with its policy given as an object
    topic = {
        "requestParameters": {
            "name": "order-events",
            "attributes": {"Policy": {"Statement": [everyone]}},
        }
    }
    assert policy_principals(topic, ACCOUNT) == ["*"]


def test_policy_principals_reads_only_the_policy_attribute():
    everyone = {"Effect": "Allow", "Principal": "*", "Action": "sns:Publish"}
    removed = {"requestParameters": {"queueUrl": QUEUE_URL, "attributes": {"Policy": ""}}}
    retention = {
        "requestParameters": {
            "queueUrl": QUEUE_URL,
            "attributes": {"MessageRetentionPeriod": "86400"},
        }
    }

    assert policy_principals(_topic_policy(everyone, name="DeliveryPolicy"), ACCOUNT) == []
    assert policy_principals(removed, ACCOUNT) == []
    assert policy_principals(retention, ACCOUNT) == []
    assert foreign_policy_principal(removed, ACCOUNT) == [False]


def test_a_topic_policy_narrowed_to_a_source_is_not_public():
    """S3 and EventBridge publish to a topic through a wildcard pinned by aws:SourceArn, and the
    console's default topic policy pins it with AWS:SourceOwner: none is public."""
    from_bucket = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "SNS:Publish",
        "Resource": TOPIC_ARN,
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:*:*:order-uploads"}},
    }
    from_rule = {
        **from_bucket,
        "Principal": "*",
        "Condition": {
            "ArnEquals": {"aws:SourceArn": f"arn:aws:events:eu-central-1:{ACCOUNT}:rule/orders"}
        },
    }
    default = {**from_bucket, "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}}
    open_to_all = {**from_bucket, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}

    assert policy_principals(_topic_policy(from_bucket), ACCOUNT) == []
    assert foreign_policy_principal(_topic_policy(from_bucket), ACCOUNT) == [False]
    assert policy_principals(_topic_policy(from_rule), ACCOUNT) == [ACCOUNT]
    assert foreign_policy_principal(_topic_policy(from_rule, default), ACCOUNT) == [False]
    assert policy_principals(_queue_policy(from_bucket, open_to_all), ACCOUNT) == ["*"]


def test_policy_principals_reads_sqs_and_sns_add_permission():
    def add_permission(**params):
        return {"requestParameters": params}

    sqs_foreign = add_permission(
        queueUrl=QUEUE_URL, label="partner", AWSAccountIds=[FOREIGN], actions=["SendMessage"]
    )
    sqs_own = add_permission(
        queueUrl=QUEUE_URL, label="own", aWSAccountIds=[ACCOUNT], actions=["ReceiveMessage"]
    )
    sns_everyone = add_permission(
        topicArn=TOPIC_ARN, label="all", aWSAccountId=["*"], actionName=["Publish"]
    )
    sns_mixed = add_permission(
        topicArn=TOPIC_ARN, label="two", aWSAccountId=[ACCOUNT, FOREIGN], actionName=["Subscribe"]
    )

    assert policy_principals(sqs_foreign, ACCOUNT) == [FOREIGN]
    assert foreign_policy_principal(sqs_own, ACCOUNT) == [False]
    assert policy_principals(sns_everyone, ACCOUNT) == ["*"]
    assert policy_foreign_accounts(sns_mixed, ACCOUNT) == [FOREIGN]


def test_queue_or_topic_reads_the_request_else_the_create_response():
    created = {
        "requestParameters": {"queueName": "orders-intake"},
        "responseElements": {"queueUrl": QUEUE_URL},
    }

    assert queue_or_topic({"requestParameters": {"queueUrl": QUEUE_URL}}, ACCOUNT) == [QUEUE_URL]
    assert queue_or_topic(created, ACCOUNT) == [QUEUE_URL]
    assert queue_or_topic({"responseElements": {"topicArn": TOPIC_ARN}}, ACCOUNT) == [TOPIC_ARN]
    assert (
        queue_or_topic({"requestParameters": {"queueName": "x"}, "responseElements": None}, ACCOUNT)
        == []
    )


def _web_identity_trust(condition=None, provider=GITHUB_OIDC):
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": provider},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if condition is not None:
        statement["Condition"] = condition
    doc = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return {"requestParameters": {"roleName": "deploy", "assumeRolePolicyDocument": doc}}


def test_oidc_trust_unscoped_when_the_subject_is_missing_or_starts_with_a_wildcard():
    aud = {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}
    any_repo = {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}}
    pinned = {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:*"}}
    mixed = {"StringLike": {"token.actions.githubusercontent.com:sub": ["repo:acme/a:*", "*"]}}

    assert oidc_trust_unscoped(_web_identity_trust(), ACCOUNT) == [True]
    assert oidc_trust_unscoped(_web_identity_trust(aud), ACCOUNT) == [True]
    assert oidc_trust_unscoped(_web_identity_trust(any_repo), ACCOUNT) == [True]
    assert oidc_trust_unscoped(_web_identity_trust(mixed), ACCOUNT) == [True]
    assert oidc_trust_unscoped(_web_identity_trust(pinned), ACCOUNT) == [False]


def test_oidc_trust_unscoped_reads_cognito_audience_and_ignores_other_trusts():
    cognito = "cognito-identity.amazonaws.com"
    pool = {"StringEquals": {"cognito-identity.amazonaws.com:aud": "eu-west-1:1234"}}
    service = {
        "requestParameters": {
            "policyDocument": json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                }
            )
        }
    }

    assert oidc_trust_unscoped(_web_identity_trust(provider=cognito), ACCOUNT) == [True]
    assert oidc_trust_unscoped(_web_identity_trust(pool, provider=cognito), ACCOUNT) == [False]
    assert oidc_trust_unscoped(service, ACCOUNT) == [False]


def _lifecycle(*rules):
    config = {"Rule": rules[0] if len(rules) == 1 else list(rules)}
    return {"requestParameters": {"bucketName": "b", "LifecycleConfiguration": config}}


def test_lifecycle_expires_all_needs_an_enabled_unfiltered_short_expiration():
    everything = {"ID": "x", "Status": "Enabled", "Filter": "", "Expiration": {"Days": 1}}
    legacy_prefix = {"ID": "x", "Status": "Enabled", "Prefix": "", "Expiration": {"Days": "3"}}
    dated = {"ID": "x", "Status": "Enabled", "Filter": {}, "Expiration": {"Date": "2026-01-01"}}
    tmp_only = {**everything, "Filter": {"Prefix": "tmp/"}}
    tagged = {**everything, "Filter": {"Tag": {"Key": "scratch", "Value": "1"}}}
    disabled = {**everything, "Status": "Disabled"}
    archive = {**everything, "Expiration": {"Days": 730}}
    noncurrent = {
        "ID": "x",
        "Status": "Enabled",
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
    }

    for hit in (everything, legacy_prefix, dated):
        assert lifecycle_expires_all(_lifecycle(hit), ACCOUNT) == [True], hit
    for miss in (tmp_only, tagged, disabled, archive, noncurrent):
        assert lifecycle_expires_all(_lifecycle(miss), ACCOUNT) == [False], miss
    assert lifecycle_expires_all(_lifecycle(tmp_only, everything), ACCOUNT) == [True]


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


def test_principal_is_human_excludes_gcp_workload_subjects():
    wif = (
        "principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/"
        "partners/subject/app-7"
    )
    workforce = "principal://iam.googleapis.com/locations/global/workforcePools/staff/subject/kim"
    rows = events(
        event(provider="gcp", principal_type="user", principal=wif),
        event(provider="gcp", principal_type="user", principal="shop.svc.id.goog[prod/api]"),
        event(
            provider="gcp", principal_type="user", principal="repo:acme/shop:ref:refs/heads/main"
        ),
        event(provider="gcp", principal_type="user", principal=workforce),
        event(provider="gcp", principal_type="user", principal="kim@example.org"),
    )
    assert principal_is_human(rows).tolist() == [False, False, False, True, True]


def _granted_by(caller, deltas):
    record = _set_iam_policy(deltas)
    record["protoPayload"]["authenticationInfo"] = {"principalEmail": caller}
    return record


def test_granted_members_and_roles_read_added_bindings_only():
    record = _set_iam_policy(
        [
            {"action": "REMOVE", "role": "roles/owner", "member": "user:old@acme.io"},
            {"action": "ADD", "role": "roles/viewer", "member": "user:new@acme.io"},
        ]
    )
    assert granted_members(record, None) == ["user:new@acme.io"]
    assert granted_roles(record, None) == ["roles/viewer"]


def test_external_members_are_personal_domains_or_another_domain_than_the_granting_person():
    by_person = _granted_by(
        "kim@acme.io",
        [
            {"action": "ADD", "role": "roles/editor", "member": "user:eve@gmail.com"},
            {"action": "ADD", "role": "roles/viewer", "member": "group:ops@partner.example"},
            {"action": "ADD", "role": "roles/viewer", "member": "user:sam@acme.io"},
            {
                "action": "ADD",
                "role": "roles/viewer",
                "member": "serviceAccount:x@p.iam.gserviceaccount.com",
            },
            {"action": "REMOVE", "role": "roles/owner", "member": "user:mallory@gmail.com"},
        ],
    )
    by_pipeline = _granted_by(
        "terraform@acme-prod.iam.gserviceaccount.com",
        [
            {"action": "ADD", "role": "roles/viewer", "member": "group:ops@partner.example"},
            {"action": "ADD", "role": "roles/owner", "member": "user:eve@googlemail.com"},
        ],
    )

    assert external_members(by_person, None) == ["user:eve@gmail.com", "group:ops@partner.example"]
    assert external_roles(by_person, None) == ["roles/editor", "roles/viewer"]
    assert external_members(by_pipeline, None) == ["user:eve@googlemail.com"]
    assert external_grant(_granted_by("kim@acme.io", []), None) == [False]


def test_ownership_invite_counts_as_an_owner_grant_of_its_member():
    invite = {
        "protoPayload": {
            "methodName": "InsertProjectOwnershipInvite",
            "authenticationInfo": {"principalEmail": "kim@acme.io"},
            "request": {"member": "user:eve@gmail.com", "projectId": "shop-prod"},
        }
    }
    assert external_roles(invite, None) == ["roles/owner"]
    assert external_members(invite, None) == ["user:eve@gmail.com"]


def _deploy(method, request):
    return {"protoPayload": {"methodName": method, "request": request}}


def test_runtime_service_account_reads_each_deploy_request_shape():
    sa = "fn@shop-prod.iam.gserviceaccount.com"
    shapes = [
        (
            "google.cloud.functions.v1.CloudFunctionsService.CreateFunction",
            {"function": {"serviceAccountEmail": sa}},
        ),
        (
            "google.cloud.functions.v2.FunctionService.CreateFunction",
            {"function": {"serviceConfig": {"serviceAccountEmail": sa}}},
        ),
        (
            "google.cloud.run.v1.Services.CreateService",
            {"service": {"spec": {"template": {"spec": {"serviceAccountName": sa}}}}},
        ),
        (
            "google.cloud.run.v2.Services.CreateService",
            {"service": {"template": {"serviceAccount": sa}}},
        ),
        (
            "google.cloud.run.v2.Jobs.CreateJob",
            {"job": {"template": {"template": {"serviceAccount": sa}}}},
        ),
        ("google.devtools.cloudbuild.v1.CloudBuild.CreateBuild", {"build": {"serviceAccount": sa}}),
        ("v1.compute.instances.insert", {"serviceAccounts": [{"email": sa, "scopes": []}]}),
        (
            "google.cloud.scheduler.v1.CloudScheduler.CreateJob",
            {"job": {"httpTarget": {"oidcToken": {"serviceAccountEmail": sa}}}},
        ),
    ]
    for method, request in shapes:
        assert runtime_service_account(_deploy(method, request), None) == [sa], method


def test_default_service_account_is_a_default_account_or_none_named_on_a_create():
    compute_default = "123456789012-compute@developer.gserviceaccount.com"
    named = _deploy(
        "google.cloud.run.v2.Services.CreateService",
        {"service": {"template": {"serviceAccount": compute_default}}},
    )
    unnamed = _deploy("google.cloud.functions.v2.FunctionService.CreateFunction", {"function": {}})
    own = _deploy(
        "google.cloud.run.v2.Services.CreateService",
        {"service": {"template": {"serviceAccount": "api@shop-prod.iam.gserviceaccount.com"}}},
    )
    unnamed_update = _deploy("google.cloud.run.v2.Services.UpdateService", {"service": {}})
    unnamed_scheduler = _deploy("google.cloud.scheduler.v1.CloudScheduler.CreateJob", {"job": {}})

    assert default_service_account(named, None) == [True]
    assert default_service_account(unnamed, None) == [True]
    assert default_service_account(own, None) == [False]
    assert default_service_account(unnamed_update, None) == [False]
    assert default_service_account(unnamed_scheduler, None) == [False]


def _run_deploy(containers, *, v2):
    if v2:
        service = {"template": {"containers": containers}}
        return _deploy("google.cloud.run.v2.Services.UpdateService", {"service": service})
    service = {"spec": {"template": {"spec": {"containers": containers}}}}
    return _deploy("google.cloud.run.v1.Services.ReplaceService", {"service": service})


def test_container_images_reads_v1_and_v2_service_requests():
    own = "europe-west1-docker.pkg.dev/shop-prod/apps/api:9"
    side = "ghcr.io/acme/proxy:1"
    for v2 in (False, True):
        record = _run_deploy([{"image": own}, {"image": side}, {"name": "no-image"}], v2=v2)
        assert container_images(record, "shop-prod") == [own, side]
    assert container_images(_deploy("google.cloud.run.v1.Services.ReplaceService", {}), "p") == []


@pytest.mark.parametrize(
    ("image", "foreign"),
    [
        ("europe-west1-docker.pkg.dev/shop-prod/apps/api:9", False),
        ("us-docker.pkg.dev/Shop-Prod/apps/api@sha256:0123abcd", False),
        ("gcr.io/shop-prod/api:1", False),
        ("eu.gcr.io/shop-prod/api:1", False),
        ("europe-docker.pkg.dev/acme-artifacts/apps/api:9", True),  # another project
        ("gcr.io/shop-prod-staging/api:1", True),  # a prefix of the project is another project
        ("us-docker.pkg.dev/cloudrun/container/hello", False),  # Google's placeholder
        ("nginx:1.27", True),  # no host: Docker Hub
        ("library/nginx", True),
        ("docker.io/evilcorp/api:latest", True),
        ("ghcr.io/acme/api:1", True),
        ("localhost:5000/api", True),
    ],
)
def test_foreign_images_are_hosted_outside_the_event_project(image, foreign):
    record = _run_deploy([{"image": image}], v2=True)
    assert foreign_images(record, "shop-prod") == ([image] if foreign else [])
    assert foreign_image(record, "shop-prod") == [foreign]


def test_foreign_images_reads_domain_scoped_projects_and_needs_the_project():
    record = _run_deploy([{"image": "gcr.io/example.com/shop/api:1"}], v2=False)
    assert foreign_images(record, "example.com:shop") == []
    assert foreign_images(record, "shop") == ["gcr.io/example.com/shop/api:1"]
    assert foreign_image(record, None) == [False]


def test_org_policy_constraint_reads_v2_policy_names_and_v1_constraints():
    v2_update = {
        "protoPayload": {
            "request": {"policy": {"name": "projects/123/policies/iam.allowedPolicyMemberDomains"}}
        }
    }
    v2_delete = {"protoPayload": {"request": {"name": "folders/9/policies/compute.requireOsLogin"}}}
    v1_clear = {
        "protoPayload": {
            "resourceName": "projects/shop-prod",
            "request": {"constraint": "constraints/storage.publicAccessPrevention"},
        }
    }
    assert org_policy_constraint(v2_update, None) == ["iam.allowedPolicyMemberDomains"]
    assert org_policy_constraint(v2_delete, None) == ["compute.requireOsLogin"]
    assert org_policy_constraint(v1_clear, None) == ["storage.publicAccessPrevention"]
    assert org_policy_constraint({"protoPayload": {"resourceName": "projects/p"}}, None) == []


def test_secret_name_drops_the_version_of_version_calls():
    def call(name):
        return {"protoPayload": {"resourceName": name}}

    assert secret_name(call("projects/123/secrets/stripe-key/versions/7"), None) == [
        "projects/123/secrets/stripe-key"
    ]
    assert secret_name(call("projects/123/secrets/stripe-key"), None) == [
        "projects/123/secrets/stripe-key"
    ]
    assert secret_name(call("projects/123/topics/orders"), None) == []


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
