from __future__ import annotations

import random
import re
import uuid

from pipelines.simulate.ids import aws_time, gcp_time, uuid4
from tests.pipelines.simulate.conftest import cloudtrail_records, log_entries

AWS_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_seeded_uuid4_is_a_valid_version_4_uuid():
    rng = random.Random(1)
    values = [uuid4(rng) for _ in range(200)]
    assert all(uuid.UUID(v).version == 4 and str(uuid.UUID(v)) == v for v in values)
    assert len(set(values)) == 200
    assert uuid4(random.Random(1)) == values[0]


def test_times_are_formatted_as_the_providers_write_them():
    assert aws_time(1772445600) == "2026-03-02T10:00:00Z"
    assert gcp_time(1772445600, 1234) == "2026-03-02T10:00:00.001234Z"


def test_cloudtrail_records_carry_the_documented_top_level_fields(sim):
    required = {
        "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
        "sourceIPAddress", "userAgent", "requestParameters", "responseElements", "requestID",
        "eventID", "readOnly", "eventType", "managementEvent", "recipientAccountId",
        "eventCategory",
    }  # fmt: skip
    for record in cloudtrail_records(sim):
        assert required <= record.keys(), record["eventName"]
        assert AWS_TIME.fullmatch(record["eventTime"])
        assert record["eventVersion"] in ("1.08", "1.09")
        assert record["eventType"] in ("AwsApiCall", "AwsConsoleSignIn", "AwsServiceEvent")
        assert record["managementEvent"] == (record["eventCategory"] == "Management")


def test_lambda_control_plane_names_carry_their_api_version_and_invoke_does_not(sim):
    names = {
        r["eventName"]
        for r in cloudtrail_records(sim)
        if r["eventSource"] == "lambda.amazonaws.com"
    }
    assert "Invoke" in names
    assert {
        "UpdateFunctionCode20150331v2",
        "GetFunction20150331v2",
        "PublishVersion20150331",
    } <= names
    assert not names & {"UpdateFunctionCode", "GetFunction", "AddPermission", "CreateFunction"}


def test_invocations_are_data_events_by_api_gateway_or_eventbridge(sim):
    invokes = [r for r in cloudtrail_records(sim) if r["eventName"] == "Invoke"
               and r["userIdentity"]["type"] == "AWSService"]  # fmt: skip
    assert {r["userIdentity"]["invokedBy"] for r in invokes} == {
        "apigateway.amazonaws.com",
        "events.amazonaws.com",
    }
    assert all(r["eventCategory"] == "Data" and not r["managementEvent"] for r in invokes)
    assert all(
        r["requestParameters"]["functionName"].startswith("arn:aws:lambda:") for r in invokes
    )


def test_assumed_role_sessions_name_their_issuer_and_mfa(sim):
    roles = [
        r["userIdentity"]
        for r in cloudtrail_records(sim)
        if r["userIdentity"].get("type") == "AssumedRole"
    ]
    assert roles
    for ident in roles:
        issuer = ident["sessionContext"]["sessionIssuer"]
        assert issuer["type"] == "Role"
        assert ident["arn"].split("/")[1] == issuer["userName"]
        assert ident["sessionContext"]["attributes"]["mfaAuthenticated"] in ("true", "false")
    sessions = {
        i["arn"].rsplit("/", 1)[1]
        for i in roles
        if i["sessionContext"]["sessionIssuer"]["userName"] == "ci-deploy"
    }
    assert all(s.startswith("GitHubActions-") for s in sessions)
    assert any("AWSReservedSSO_Developer_" in i["arn"] for i in roles)


def test_console_logins_say_whether_mfa_was_used(sim):
    logins = [r for r in cloudtrail_records(sim) if r["eventName"] == "ConsoleLogin"]
    assert logins
    for login in logins:
        assert login["eventType"] == "AwsConsoleSignIn"
        assert login["additionalEventData"]["MFAUsed"] in ("Yes", "No")
        assert login["responseElements"]["ConsoleLogin"] in ("Success", "Failure")


def test_baseline_has_occasional_access_denied_and_service_events(sim):
    records = list(cloudtrail_records(sim))
    assert any(
        r.get("errorCode") == "AccessDenied" and r["eventName"] == "GetSecretValue" for r in records
    )
    assert any(r["eventType"] == "AwsServiceEvent" for r in records)
    assert any(
        r["eventSource"] == "ssm.amazonaws.com" and r["requestParameters"]["withDecryption"]
        for r in records
    )


def test_log_entries_have_the_cloud_audit_log_shape(sim):
    entries = list(log_entries(sim))
    assert entries
    for entry in entries:
        payload = entry["protoPayload"]
        assert payload["@type"] == "type.googleapis.com/google.cloud.audit.AuditLog"
        assert entry["logName"].startswith("projects/")
        assert entry["resource"]["labels"]["project_id"] in entry["logName"]
        auth = payload["authenticationInfo"]
        assert auth.get("principalEmail") or auth["principalSubject"].startswith(
            ("repo:", "principal://iam.googleapis.com/projects/")
        )
        assert {"callerIp", "callerSuppliedUserAgent"} <= payload["requestMetadata"].keys()
        assert entry["receiveTimestamp"] >= entry["timestamp"]
    methods = {e["protoPayload"]["methodName"] for e in entries}
    assert "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion" in methods
    assert any(m.startswith("google.cloud.functions.v1.") for m in methods)
    assert any(m.startswith("google.cloud.functions.v2.") for m in methods)
    assert any(m.startswith("google.cloud.run.v") for m in methods)
