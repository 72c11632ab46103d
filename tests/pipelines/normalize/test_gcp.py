from __future__ import annotations

import pandas as pd
import pytest

from pipelines.normalize import normalize_blob
from tests.factories import json_lines, log_entry, request_log


def one(**payload):
    entry = log_entry()
    top = {k: payload.pop(k) for k in list(payload) if k in ("logName", "resource")}
    entry.update(top)
    entry["protoPayload"].update(payload)
    batch = normalize_blob(json_lines(entry), "sink.jsonl")
    assert batch.rejects == []
    return batch.events.iloc[0]


@pytest.mark.parametrize(
    ("method", "action"),
    [
        ("google.cloud.functions.v1.CloudFunctionsService.UpdateFunction", "UpdateFunction"),
        ("google.cloud.functions.v2.FunctionService.UpdateFunction", "UpdateFunction"),
        ("google.cloud.run.v1.Services.ReplaceService", "UpdateService"),
        ("google.cloud.run.v2.Services.UpdateService", "UpdateService"),
        ("google.iam.v1.IAMPolicy.SetIamPolicy", "SetIamPolicy"),
        ("google.cloud.functions.v2.FunctionService.SetIamPolicy", "SetIamPolicy"),
        ("SetIamPolicy", "SetIamPolicy"),
    ],
)
def test_action_is_canonical_across_api_versions(method, action):
    event = one(methodName=method)
    assert (event.action, event.raw_action) == (action, method)


@pytest.mark.parametrize(
    ("service", "method", "category"),
    [
        (
            "cloudfunctions.googleapis.com",
            "google.cloud.functions.v1.CloudFunctionsService.CallFunction",
            "invocation",
        ),
        (
            "secretmanager.googleapis.com",
            "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion",
            "access",
        ),
        ("iamcredentials.googleapis.com", "GenerateAccessToken", "authentication"),
        ("iamcredentials.googleapis.com", "SignJwt", "authentication"),
        ("logging.googleapis.com", "google.logging.v2.ConfigServiceV2.DeleteSink", "modification"),
        ("cloudresourcemanager.googleapis.com", "SetIamPolicy", "modification"),
        ("compute.googleapis.com", "v1.compute.instances.list", "access"),
    ],
)
def test_category_of_gcp_methods(service, method, category):
    assert one(serviceName=service, methodName=method).category == category


@pytest.mark.parametrize(
    ("auth", "principal", "kind"),
    [
        ({"principalEmail": "kim@example.org"}, "kim@example.org", "user"),
        (
            {"principalEmail": "ci@p.iam.gserviceaccount.com"},
            "ci@p.iam.gserviceaccount.com",
            "service_account",
        ),
        ({}, "anonymous", "anonymous"),
    ],
)
def test_principal_type_of_gcp_callers(auth, principal, kind):
    event = one(authenticationInfo=auth)
    assert (event.principal, event.principal_type) == (principal, kind)


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [
        ({}, "success", None),
        ({"code": 0}, "success", None),
        ({"code": 7, "message": "denied"}, "failure", "PERMISSION_DENIED"),
        ({"code": 16}, "failure", "UNAUTHENTICATED"),
        ({"code": 5}, "failure", "NOT_FOUND"),
    ],
)
def test_status_code_gives_outcome_and_code_name(status, outcome, code):
    event = one(status=status)
    assert event.outcome == outcome
    assert (None if pd.isna(event.error_code) else event.error_code) == code


def test_data_access_reads_are_read_only():
    event = one(
        logName="projects/p/logs/cloudaudit.googleapis.com%2Fdata_access",
        serviceName="secretmanager.googleapis.com",
        methodName="google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion",
    )
    assert bool(event.read_only) is True
    assert (
        bool(one(methodName="google.cloud.functions.v2.FunctionService.GetFunction").read_only)
        is True
    )
    assert (
        bool(one(methodName="google.cloud.functions.v2.FunctionService.UpdateFunction").read_only)
        is False
    )


def test_project_comes_from_log_name_then_resource_labels():
    assert one(logName="projects/from-log/logs/x").account == "from-log"
    event = one(
        logName="organizations/42/logs/x",
        resource={"type": "project", "labels": {"project_id": "lbl"}},
    )
    assert event.account == "lbl"
    assert (
        one(logName="organizations/42/logs/x", resource={"type": "organization"}).account
        == "organizations/42"
    )


def test_region_is_label_region_or_location_else_global():
    assert (
        one(resource={"type": "cloud_function", "labels": {"region": "us-east1"}}).region
        == "us-east1"
    )
    assert (
        one(resource={"type": "cloud_run_revision", "labels": {"location": "europe-west1"}}).region
        == "europe-west1"
    )
    assert one(resource={"type": "project", "labels": {"project_id": "p"}}).region == "global"


def test_gcp_fields_map_to_the_event_model():
    event = one()
    assert event.provider == "gcp"
    assert event.service == "cloudfunctions.googleapis.com"
    assert event.source_ip == "198.51.100.3"
    assert event.user_agent == "gcloud"
    assert event.resource == "projects/demo-proj/locations/europe-west3/functions/hook"
    assert pd.isna(event.session)
    assert pd.isna(event.mfa)


def test_a_cloud_run_request_log_is_an_invocation_of_the_service_with_no_caller():
    audit = log_entry(
        resource={
            "type": "cloud_run_revision",
            "labels": {"location": "europe-west3", "service_name": "checkout"},
        }
    )
    audit["protoPayload"].update(
        serviceName="run.googleapis.com",
        methodName="google.cloud.run.v2.Services.UpdateService",
        resourceName="projects/demo-proj/locations/europe-west3/services/checkout",
    )
    batch = normalize_blob(json_lines(request_log(), audit), "sink.jsonl")

    assert batch.rejects == []
    request, change = batch.events.iloc[0], batch.events.iloc[1]
    assert (request.service, request.action, request.raw_action) == (
        "run.googleapis.com",
        "Invoke",
        "POST",
    )
    assert request.category == "invocation"
    assert pd.isna(request.principal)
    assert pd.isna(request.principal_type)
    assert (request.source_ip, request.user_agent) == ("203.0.113.10", "Mozilla/5.0")
    assert (request.outcome, request.account, request.region) == (
        "success",
        "demo-proj",
        "europe-west3",
    )
    assert request.resource == change.resource  # one name for the service in both kinds of entry


def test_a_cloud_function_request_log_names_the_function():
    entry = request_log(
        logName="projects/demo-proj/logs/cloudfunctions.googleapis.com%2Fcloud-functions",
        resource={
            "type": "cloud_function",
            "labels": {"project_id": "demo-proj", "region": "us-central1", "function_name": "hook"},
        },
    )
    event = normalize_blob(json_lines(entry), "sink.jsonl").events.iloc[0]
    assert (event.service, event.category) == ("cloudfunctions.googleapis.com", "invocation")
    assert event.resource == "projects/demo-proj/locations/us-central1/functions/hook"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (403, "PERMISSION_DENIED"),
        (401, "UNAUTHENTICATED"),
        (429, "RESOURCE_EXHAUSTED"),
        (502, "HTTP_502"),
        (304, None),
    ],
)
def test_request_log_status_becomes_outcome_and_error_code(status, code):
    entry = request_log()
    entry["httpRequest"]["status"] = status
    event = normalize_blob(json_lines(entry), "sink.jsonl").events.iloc[0]
    assert event.outcome == ("failure" if code else "success")
    assert (None if pd.isna(event.error_code) else event.error_code) == code


def test_request_logs_of_other_resources_are_rejected_and_a_bad_status_is_an_unknown_outcome():
    balancer = request_log(resource={"type": "http_load_balancer", "labels": {}})
    wrong_type = request_log()
    wrong_type["httpRequest"]["status"] = "two hundred"
    hostile = request_log()
    hostile["httpRequest"]["userAgent"] = "<script>alert(1)</script>\x1b[2J"
    batch = normalize_blob(json_lines(balancer, wrong_type, hostile), "sink.jsonl")

    assert [r.index for r in batch.rejects] == [0]
    assert "request log" in batch.rejects[0].reason
    unread, served = batch.events.iloc[0], batch.events.iloc[1]
    assert (unread.action, pd.isna(unread.outcome), pd.isna(unread.error_code)) == (
        "Invoke",
        True,
        True,
    )
    assert [name for name, _ in batch.dropped.counts] == ["httpRequest.status"]
    assert served.user_agent == "<script>alert(1)</script>\x1b[2J"
