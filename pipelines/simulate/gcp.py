"""Cloud Audit Logs LogEntry objects in the shape a Cloud Storage sink writes them."""

from __future__ import annotations

import random
from typing import Any

from pipelines.simulate.ids import gcp_time, insert_id

Entry = dict[str, Any]

GCLOUD_UA = (
    "google-cloud-sdk gcloud/473.0.0 command/gcloud.{cmd} "
    "invocation-id/{inv} environment/None environment-version/None "
    "client-os/MACOSX client-os-ver/23.4.0 client-pltf-arch/arm "
    "interactive/True from-script/False python/3.11.8 term/xterm-256color "
    "(Macintosh; Intel Mac OS X 23.4.0),gzip(gfe)"
)
CONSOLE_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 "
    "Safari/537.36,gzip(gfe),gzip(gfe)"
)
CI_UA = (
    "google-github-actions:deploy-cloudrun/2.6.0 google-api-nodejs-client/9.7.0 (gzip),gzip(gfe)"
)
CLIENT_UA = "grpc-python/1.62.2 grpc-c/39.0.0 (linux; chttp2),gzip(gfe)"
GO_CLIENT_UA = "grpc-go/1.63.2,gzip(gfe)"

FUNCTIONS_V1 = "google.cloud.functions.v1.CloudFunctionsService."
FUNCTIONS_V2 = "google.cloud.functions.v2.FunctionService."
SECRETS = "google.cloud.secretmanager.v1.SecretManagerService."


def log_name(project: str, log: str) -> str:
    """``projects/P/logs/cloudaudit.googleapis.com%2F<log>``, the slash URL-encoded as logged."""
    return f"projects/{project}/logs/cloudaudit.googleapis.com%2F{log}"


def function_resource(project: str, region: str, name: str) -> Entry:
    return {
        "type": "cloud_function",
        "labels": {"function_name": name, "project_id": project, "region": region},
    }


def run_resource(project: str, region: str, name: str) -> Entry:
    return {
        "type": "cloud_run_revision",
        "labels": {
            "configuration_name": "",
            "location": region,
            "project_id": project,
            "revision_name": "",
            "service_name": name,
        },
    }


def audited_resource(project: str, service: str, method: str) -> Entry:
    return {
        "type": "audited_resource",
        "labels": {"method": method, "project_id": project, "service": service},
    }


def entry(
    rng: random.Random,
    t: int,
    project: str,
    log: str,
    resource: Entry,
    service: str,
    method: str,
    resource_name: str,
    principal: str,
    ip: str,
    ua: str,
    permission: str | None,
    *,
    request: Entry | None = None,
    response: Entry | None = None,
    status: Entry | None = None,
    service_data: Entry | None = None,
    delegation: list[Entry] | None = None,
    location: str | None = None,
    severity: str | None = None,
    subject: str | None = None,
    also_checked: list[tuple[str, str]] | None = None,
    metadata: Entry | None = None,
) -> Entry:
    """One LogEntry with an AuditLog payload; a non-zero ``status.code`` makes it an ERROR.

    ``subject`` replaces ``principal`` for a federated identity (``principalSubject``, no email);
    ``permission`` None logs no authorizationInfo (STS token exchange); ``also_checked`` adds
    (resource, permission) pairs IAM checked too, such as ``iam.serviceAccounts.actAs`` on the
    service account a deploy runs as.
    """
    micros = rng.randrange(1_000_000)
    ts = gcp_time(t, micros)
    received = micros + 300_000 + rng.randrange(900_000)
    failed = bool(status and status.get("code"))
    auth: Entry = {"principalSubject": subject} if subject else {"principalEmail": principal}
    if delegation:
        auth["serviceAccountDelegationInfo"] = delegation
    payload: Entry = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "status": status or {},
        "authenticationInfo": auth,
        "requestMetadata": {
            "callerIp": ip,
            "callerSuppliedUserAgent": ua,
            "requestAttributes": {"time": ts, "auth": {}},
            "destinationAttributes": {},
        },
        "serviceName": service,
        "methodName": method,
    }
    if permission is not None:
        checked = [(resource_name, permission), *(also_checked or [])]
        payload["authorizationInfo"] = [
            {"resource": r, "permission": p, "granted": not failed, "resourceAttributes": {}}
            for r, p in checked
        ]
    payload["resourceName"] = resource_name
    if location:
        payload["resourceLocation"] = {"currentLocations": [location]}
    if request is not None:
        payload["request"] = request
    if response is not None and not failed:
        payload["response"] = response
    if service_data is not None:
        payload["serviceData"] = service_data
    if metadata is not None:
        payload["metadata"] = metadata
    return {
        "insertId": insert_id(rng),
        "logName": log_name(project, log),
        "protoPayload": payload,
        "receiveTimestamp": gcp_time(t + received // 1_000_000, received % 1_000_000),
        "resource": resource,
        "severity": severity or ("ERROR" if failed else "NOTICE" if log == "activity" else "INFO"),
        "timestamp": ts,
    }


def policy_delta(*deltas: tuple[str, str, str]) -> Entry:
    """``serviceData`` of a SetIamPolicy: bindings added or removed, as (action, role, member)."""
    return {
        "@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
        "policyDelta": {
            "bindingDeltas": [{"action": a, "role": r, "member": m} for a, r, m in deltas]
        },
    }


def wif_delegation(project_number: str, repo: str) -> list[Entry]:
    """Workload Identity Federation from GitHub Actions: the token subject, delegated to the SA."""
    return [
        {
            "principalSubject": f"principal://iam.googleapis.com/projects/{project_number}"
            "/locations/global/workloadIdentityPools/github/subject/"
            f"repo:{repo}:ref:refs/heads/main"
        }
    ]


def denied(permission: str, resource: str) -> Entry:
    return {
        "code": 7,
        "message": f"Permission '{permission}' denied on resource '{resource}' "
        "(or it may not exist).",
    }
