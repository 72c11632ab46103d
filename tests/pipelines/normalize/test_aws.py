from __future__ import annotations

import orjson
import pandas as pd
import pytest

from pipelines.normalize import normalize_blob
from tests.factories import ACCOUNT, cloudtrail_file, cloudtrail_record


def one(**fields):
    batch = normalize_blob(cloudtrail_file(cloudtrail_record(**fields)), "test.json")
    assert batch.rejects == []
    assert len(batch.events) == 1
    return batch.events.iloc[0]


def assumed_role(arn: str, issuer: str | None, **attributes):
    context = {"attributes": attributes}
    if issuer:
        context["sessionIssuer"] = {"type": "Role", "arn": issuer}
    return {"type": "AssumedRole", "arn": arn, "accountId": ACCOUNT, "sessionContext": context}


def test_assumed_role_principal_is_session_issuer():
    role = f"arn:aws:iam::{ACCOUNT}:role/team/deployer"
    event = one(
        userIdentity=assumed_role(f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/run-7", role)
    )
    assert (event.principal, event.principal_type, event.session) == (role, "role", "run-7")


def test_assumed_role_without_issuer_is_derived_from_its_arn():
    event = one(
        userIdentity=assumed_role(f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/run-7", None)
    )
    assert event.principal == f"arn:aws:iam::{ACCOUNT}:role/deployer"
    assert event.session == "run-7"


@pytest.mark.parametrize(
    ("identity", "principal", "kind"),
    [
        ({"type": "IAMUser", "arn": "arn:aws:iam::1:user/sam"}, "arn:aws:iam::1:user/sam", "user"),
        (
            {"type": "Root", "arn": "arn:aws:iam::1:root", "accountId": "1"},
            "arn:aws:iam::1:root",
            "root",
        ),
        (
            {"type": "AWSService", "invokedBy": "events.amazonaws.com"},
            "events.amazonaws.com",
            "service",
        ),
        (
            {"type": "FederatedUser", "arn": "arn:aws:sts::1:federated-user/bob"},
            "arn:aws:sts::1:federated-user/bob",
            "federated",
        ),
        (
            {"type": "WebIdentityUser", "userName": "accounts.google.com:1"},
            "accounts.google.com:1",
            "federated",
        ),
        ({"type": "SAMLUser", "userName": "alice@corp"}, "alice@corp", "federated"),
        (
            {"type": "AWSAccount", "accountId": "ANONYMOUS_PRINCIPAL", "principalId": ""},
            "anonymous",
            "anonymous",
        ),
        (None, "anonymous", "anonymous"),
    ],
)
def test_principal_and_type_follow_the_identity_type(identity, principal, kind):
    event = one(userIdentity=identity)
    assert (event.principal, event.principal_type) == (principal, kind)


def test_aws_service_without_invoked_by_is_the_event_source():
    event = one(userIdentity={"type": "AWSService"}, eventSource="lambda.amazonaws.com")
    assert (event.principal, event.principal_type) == ("lambda.amazonaws.com", "service")


def test_service_calls_and_other_callers_mixed_in_one_file_keep_their_principals():
    # Service calls are read off the identity columns, the others record by record: each row
    # must get its own, with a mistyped identity field null among them.
    role = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    records = [
        cloudtrail_record(userIdentity={"type": "AWSService", "invokedBy": "events.amazonaws.com"}),
        cloudtrail_record(
            userIdentity=assumed_role(f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/s1", role)
        ),
        cloudtrail_record(userIdentity={"type": "AWSService", "invokedBy": ""}),
        cloudtrail_record(userIdentity={"invokedBy": ""}),
        cloudtrail_record(userIdentity={"type": "AWSService", "invokedBy": 7}),
        cloudtrail_record(userIdentity={"invokedBy": "s3.amazonaws.com"}),
        cloudtrail_record(userIdentity=None),
        cloudtrail_record(),
    ]
    batch = normalize_blob(cloudtrail_file(*records), "test.json")
    assert batch.rejects == []
    columns = batch.events[["principal", "principal_type", "session"]].to_numpy().tolist()
    assert [[None if pd.isna(value) else value for value in row] for row in columns] == [
        ["events.amazonaws.com", "service", None],
        [role, "role", "s1"],
        ["lambda.amazonaws.com", "service", None],
        ["anonymous", "anonymous", None],
        [None, None, None],
        ["s3.amazonaws.com", "service", None],
        ["anonymous", "anonymous", None],
        [f"arn:aws:iam::{ACCOUNT}:user/sam", "user", None],
    ]


@pytest.mark.parametrize(
    ("logged", "action"),
    [
        ("UpdateFunctionCode20150331v2", "UpdateFunctionCode"),
        ("GetFunction20150331", "GetFunction"),
        ("ListFunctions20150331", "ListFunctions"),
        ("CreateFunctionUrlConfig20170331", "CreateFunctionUrlConfig"),
        ("AddPermission20150331v2", "AddPermission"),
        ("Invoke", "Invoke"),
    ],
)
def test_lambda_api_version_suffix_is_stripped_from_action(logged, action):
    event = one(eventName=logged)
    assert (event.action, event.raw_action) == (action, logged)


@pytest.mark.parametrize(
    ("source", "name", "category"),
    [
        ("lambda.amazonaws.com", "Invoke", "invocation"),
        ("lambda.amazonaws.com", "AddPermission20150331v2", "modification"),
        ("lambda.amazonaws.com", "GetFunction20150331v2", "access"),
        ("secretsmanager.amazonaws.com", "GetSecretValue", "access"),
        ("signin.amazonaws.com", "ConsoleLogin", "authentication"),
        ("sts.amazonaws.com", "AssumeRoleWithWebIdentity", "authentication"),
        ("sts.amazonaws.com", "GetSessionToken", "authentication"),
        ("cloudtrail.amazonaws.com", "StopLogging", "modification"),
        ("iam.amazonaws.com", "PassRole", "modification"),
        ("ec2.amazonaws.com", "DescribeInstances", "access"),
        ("ec2.amazonaws.com", "RebootInstances", "other"),
    ],
)
def test_category_comes_from_the_tables_then_the_verb(source, name, category):
    assert one(eventSource=source, eventName=name).category == category


def test_error_code_means_failure():
    event = one(errorCode="AccessDenied", errorMessage="not authorized")
    assert (event.outcome, event.error_code) == ("failure", "AccessDenied")


def test_console_login_failure_in_response_elements_is_a_failure():
    event = one(
        eventSource="signin.amazonaws.com",
        eventName="ConsoleLogin",
        responseElements={"ConsoleLogin": "Failure"},
        additionalEventData={"MFAUsed": "No"},
    )
    assert (event.outcome, event.mfa) == ("failure", False)


@pytest.mark.parametrize("logged", ["Yes", True])
def test_mfa_flags_logged_either_way_read_alike_in_one_file(logged):
    # The session's flags are strings; beside them the event data's flag is a string or not.
    role, issuer = f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s", f"arn:aws:iam::{ACCOUNT}:role/r"
    records = [
        cloudtrail_record(additionalEventData={"MFAUsed": logged}),
        cloudtrail_record(userIdentity=assumed_role(role, issuer, mfaAuthenticated="false")),
        cloudtrail_record(
            additionalEventData={"MFAUsed": None},
            userIdentity=assumed_role(role, issuer, mfaAuthenticated="true"),
        ),
        cloudtrail_record(userIdentity=assumed_role(role, issuer, mfaAuthenticated="maybe")),
        cloudtrail_record(),
    ]
    batch = normalize_blob(cloudtrail_file(*records), "test.json")
    assert batch.rejects == []
    assert [None if pd.isna(v) else bool(v) for v in batch.events.mfa] == [
        True,
        False,
        True,
        None,
        None,
    ]


def test_mfa_comes_from_session_attributes_when_not_in_event_data():
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s"
    event = one(
        userIdentity=assumed_role(arn, f"arn:aws:iam::{ACCOUNT}:role/r", mfaAuthenticated="true")
    )
    assert bool(event.mfa) is True


@pytest.mark.parametrize(
    ("params", "resources", "expected"),
    [
        ({"functionName": "billing"}, None, "billing"),
        ({"FunctionName": "billing"}, None, "billing"),
        ({"secretId": "prod/db"}, None, "prod/db"),
        ({"roleName": "admin"}, None, "admin"),
        ({"names": ["/app/key"]}, None, "/app/key"),
        (
            {"other": 1},
            [{"ARN": "arn:aws:lambda:eu-central-1:1:function:f"}],
            "arn:aws:lambda:eu-central-1:1:function:f",
        ),
        (None, None, None),
    ],
)
def test_resource_is_the_named_target(params, resources, expected):
    fields = {"requestParameters": params}
    if resources:
        fields["resources"] = resources
    event = one(**fields)
    assert (None if pd.isna(event.resource) else event.resource) == expected


def test_account_falls_back_to_the_identity_account():
    record = cloudtrail_record()
    del record["recipientAccountId"]
    batch = normalize_blob(cloudtrail_file(record), "t.json")
    assert batch.events.iloc[0].account == ACCOUNT


@pytest.mark.parametrize(("logged", "expected"), [(True, True), (False, False), ("true", True)])
def test_read_only_is_taken_from_the_record(logged, expected):
    assert bool(one(readOnly=logged).read_only) is expected


def test_read_only_missing_is_derived_from_the_action():
    record = cloudtrail_record(eventName="ListFunctions20150331")
    del record["readOnly"]
    batch = normalize_blob(cloudtrail_file(record), "t.json")
    assert bool(batch.events.iloc[0].read_only) is True


def test_time_is_utc_microseconds_and_raw_is_the_record():
    record = cloudtrail_record(eventTime="2026-03-02T10:15:00Z")
    event = normalize_blob(cloudtrail_file(record), "t.json").events.iloc[0]
    assert event.time.isoformat() == "2026-03-02T10:15:00+00:00"
    assert orjson.loads(event.raw) == record


def test_aws_service_event_without_identity_type_is_the_invoking_service():
    event = one(
        userIdentity={"accountId": ACCOUNT, "invokedBy": "secretsmanager.amazonaws.com"},
        eventSource="secretsmanager.amazonaws.com",
        eventName="RotationStarted",
        eventType="AwsServiceEvent",
    )
    assert (event.principal, event.principal_type) == ("secretsmanager.amazonaws.com", "service")
