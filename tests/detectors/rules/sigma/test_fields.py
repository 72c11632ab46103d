"""Fields as the providers log them: raw CloudTrail names, protoPayload paths, gcp.audit.*."""

from __future__ import annotations

import numpy as np
import orjson

from detectors.rules.engine import match_rules
from tests.detectors.rules.sigma.kit import matches, normalized, user_rule
from tests.factories import cloudtrail_record, log_entry


def aws_rule(tmp_path, detection: str, logsource: str = "product: aws\n    service: cloudtrail"):
    return user_rule(
        tmp_path,
        f"""\
title: a user's rule
id: 3c1f7a52-9a0e-4f57-b7a4-0b6b0e3f2a11
logsource:
    {logsource}
detection:
{detection}
level: medium
""",
    )


def gcp_rule(tmp_path, detection: str):
    return aws_rule(tmp_path, detection, "product: gcp\n    service: gcp.audit")


def test_eventname_matches_without_api_version_suffix(tmp_path):
    rule = aws_rule(
        tmp_path,
        """\
    selection:
        eventSource: lambda.amazonaws.com
        eventName: CreateFunctionUrlConfig
    condition: selection""",
    )
    assert matches(
        rule,
        cloudtrail_record(eventName="CreateFunctionUrlConfig20211031"),
        cloudtrail_record(eventName="CreateFunctionUrlConfig"),
        cloudtrail_record(eventName="UpdateFunctionUrlConfig20211031"),
    ) == [True, True, False]


def test_eventname_with_a_suffix_matches_the_same_api_at_any_version(tmp_path):
    rule = aws_rule(
        tmp_path,
        """\
    selection:
        eventName: UpdateFunctionCode20150331v2
    condition: selection""",
    )
    assert matches(
        rule,
        cloudtrail_record(eventName="UpdateFunctionCode20150331v2"),
        cloudtrail_record(eventName="UpdateFunctionCode20150331"),
        cloudtrail_record(eventName="UpdateFunctionConfiguration20150331v2"),
    ) == [True, True, False]


def test_eventname_modifiers_see_the_logged_and_the_bare_name(tmp_path):
    starts = aws_rule(tmp_path, "    s:\n        eventName|startswith: Delete\n    condition: s")
    ends = aws_rule(tmp_path, "    s:\n        eventName|endswith: UrlConfig\n    condition: s")
    records = [
        cloudtrail_record(eventName="DeleteFunctionUrlConfig20211031"),
        cloudtrail_record(eventName="GetFunction20150331v2"),
    ]
    assert matches(starts, *records) == [True, False]
    assert matches(ends, *records) == [True, False]


def test_raw_cloudtrail_names_are_null_on_google_cloud_rows(tmp_path):
    # cloudfunctions.googleapis.com is the GCP entry's service column, but not an eventSource
    rule = aws_rule(
        tmp_path,
        "    s:\n        eventSource: cloudfunctions.googleapis.com\n    condition: s",
        logsource="product: functrail\n    service: audit",
    )
    assert matches(
        rule, log_entry(), cloudtrail_record(eventSource="cloudfunctions.googleapis.com")
    ) == [False, True]


def test_column_backed_fields_are_decided_without_reading_raw(tmp_path):
    rule = aws_rule(
        tmp_path,
        """\
    selection:
        eventSource: lambda.amazonaws.com
        eventName: CreateFunctionUrlConfig
        sourceIPAddress|cidr: 192.0.2.0/24
        userAgent|contains: aws-cli
        errorCode: null
        awsRegion: eu-central-1
    condition: selection""",
    )
    events = normalized(
        cloudtrail_record(eventName="CreateFunctionUrlConfig20211031"),
        cloudtrail_record(eventName="GetFunction20150331v2"),
    )
    fetched: list[str] = []

    def fetch(ids):
        fetched.extend(ids)
        return {}

    _, found = match_rules(events.assign(raw=None), [rule], raw_fetch=fetch)
    mask = found[rule.meta.rule_id]
    assert isinstance(mask, np.ndarray)
    assert mask.tolist() == [True, False]
    assert fetched == []  # every field was a column: no raw record was needed


def test_raw_paths_into_the_record_as_logged(tmp_path):
    rule = aws_rule(
        tmp_path,
        """\
    selection:
        eventName: ConsoleLogin
        additionalEventData.MFAUsed: 'No'
        responseElements.ConsoleLogin: Success
        userIdentity.type: IAMUser
    condition: selection""",
    )
    login = {
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "requestParameters": None,
        "responseElements": {"ConsoleLogin": "Success"},
    }
    assert matches(
        rule,
        cloudtrail_record(**login, additionalEventData={"MFAUsed": "No"}),
        cloudtrail_record(**login, additionalEventData={"MFAUsed": "Yes"}),
    ) == [True, False]


def test_value_inside_a_list_matches_element_wise(tmp_path):
    rule = aws_rule(
        tmp_path,
        """\
    selection:
        eventName|startswith: UpdateFunctionConfiguration
        requestParameters.layers|contains: ':444455556666:'
    condition: selection""",
    )
    layers = [
        "arn:aws:lambda:eu-central-1:210987654321:layer:common:3",
        "arn:aws:lambda:eu-central-1:444455556666:layer:shim:1",
    ]
    assert matches(
        rule,
        cloudtrail_record(
            eventName="UpdateFunctionConfiguration20150331v2",
            requestParameters={"functionName": "billing", "layers": layers},
        ),
        cloudtrail_record(
            eventName="UpdateFunctionConfiguration20150331v2",
            requestParameters={"functionName": "billing", "layers": layers[:1]},
        ),
    ) == [True, False]


def test_whole_object_matches_a_policy_document_logged_as_a_string_with_its_quotes(tmp_path):
    rule = aws_rule(
        tmp_path,
        """\
    selection:
        eventSource: iam.amazonaws.com
        eventName: PutUserPolicy
        requestParameters|contains|all:
            - '"s3:GetObject"'
            - '"Allow"'
            - '"arn:aws:s3:::<YOUR-BUCKET-NAME>/*"'
    condition: selection""",
    )

    def put_user_policy(resource: str) -> dict:
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": resource}],
        }
        return cloudtrail_record(
            eventSource="iam.amazonaws.com",
            eventName="PutUserPolicy",
            requestParameters={
                "userName": "sam",
                "policyName": "s3",
                "policyDocument": orjson.dumps(policy).decode(),
            },
        )

    assert matches(
        rule,
        put_user_policy("arn:aws:s3:::<YOUR-BUCKET-NAME>/*"),
        put_user_policy("arn:aws:s3:::reports/*"),
    ) == [True, False]


def test_whole_object_contains_sees_a_nested_value(tmp_path):
    rule = aws_rule(
        tmp_path,
        """\
    selection:
        eventName: PutBucketVersioning
        requestParameters|contains: Suspended
    condition: selection""",
    )
    versioning = {"bucketName": "logs", "VersioningConfiguration": {"Status": "%s"}}

    def put(status: str) -> dict:
        params = orjson.loads(orjson.dumps(versioning).decode().replace("%s", status))
        return cloudtrail_record(
            eventSource="s3.amazonaws.com",
            eventName="PutBucketVersioning",
            requestParameters=params,
        )

    assert matches(rule, put("Suspended"), put("Enabled")) == [True, False]


def create_service_account(granted: bool = True, method: str = "") -> dict:
    """google.iam.admin.v1.CreateServiceAccount as Cloud Audit Logs writes it."""
    entry = log_entry()
    entry["resource"] = {"type": "service_account", "labels": {"project_id": "demo-proj"}}
    entry["protoPayload"].update(
        serviceName="iam.googleapis.com",
        methodName=method or "google.iam.admin.v1.CreateServiceAccount",
        resourceName="projects/demo-proj/serviceAccounts/backdoor@demo-proj.iam.gserviceaccount.com",
        authorizationInfo=[
            {
                "resource": "projects/demo-proj",
                "permission": "iam.serviceAccounts.create",
                "granted": granted,
                "resourceAttributes": {},
            }
        ],
    )
    return entry


def test_gcp_audit_method_name_matches_a_granted_permission(tmp_path):
    rule = gcp_rule(
        tmp_path,
        """\
    selection:
        gcp.audit.method_name|endswith:
            - .serviceAccounts.create
            - .serviceAccounts.patch
    condition: selection""",
    )
    assert matches(
        rule,
        create_service_account(),
        create_service_account(granted=False),
        log_entry(),
    ) == [True, False, False]


def test_gcp_audit_method_name_matches_the_logged_method(tmp_path):
    rule = gcp_rule(
        tmp_path,
        """\
    selection:
        gcp.audit.method_name:
            - v*.Compute.Firewalls.Delete
            - storage.buckets.delete
    condition: selection""",
    )
    delete_firewall = create_service_account(method="v1.compute.firewalls.delete")
    delete_firewall["protoPayload"]["authorizationInfo"] = []
    assert matches(rule, delete_firewall, create_service_account()) == [True, False]


def test_gcp_audit_snake_case_names_are_protopayload_paths(tmp_path):
    rule = gcp_rule(
        tmp_path,
        """\
    selection:
        gcp.audit.service_name: iam.googleapis.com
        gcp.audit.authentication_info.principal_email|endswith: '@example.org'
        gcp.audit.request_metadata.caller_ip|cidr: 198.51.100.0/24
        gcp.audit.authorization_info.permission: iam.serviceAccounts.create
    condition: selection""",
    )
    other = log_entry()
    other["protoPayload"]["authenticationInfo"] = {
        "principalEmail": "ci@demo.iam.gserviceaccount.com"
    }
    other["protoPayload"]["serviceName"] = "iam.googleapis.com"
    assert matches(rule, create_service_account(), other, log_entry()) == [True, False, False]


def test_data_protopayload_paths_and_log_entry_fields_beside_the_payload(tmp_path):
    rule = gcp_rule(
        tmp_path,
        """\
    selection:
        data.protoPayload.resource.type: service_account
        data.protoPayload.logName:
            - cloudaudit.googleapis.com/activity
        data.protoPayload.methodName: google.iam.admin.v1.CreateServiceAccount
        data.protoPayload.authorizationInfo.granted: 'true'
    condition: selection""",
    )
    data_access = create_service_account()
    data_access["logName"] = "projects/demo-proj/logs/cloudaudit.googleapis.com%2Fdata_access"
    denied = create_service_account(granted=False)
    assert matches(rule, create_service_account(), data_access, denied) == [True, False, False]


def test_log_name_matches_in_full_and_by_its_encoded_log_id(tmp_path):
    rule = gcp_rule(
        tmp_path,
        """\
    full:
        logName|startswith: projects/demo-proj/logs/
    encoded:
        logName: cloudaudit.googleapis.com%2Factivity
    condition: full and encoded""",
    )
    other = log_entry(logName="projects/demo-proj/logs/cloudaudit.googleapis.com%2Fpolicy")
    assert matches(rule, log_entry(), other) == [True, False]
