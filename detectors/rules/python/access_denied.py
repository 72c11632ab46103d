"""Bursts of refused calls by one principal across a few APIs, weighted by who the principal is.

Sigma counts refusals in a window (``event_count``) or distinct APIs (``value_count``), not both
at once, and the burst worth an alert needs both: many refusals that are not one call failing
over and over. A person refused thirty times over six APIs in six minutes is trying what a
credential allows; a function refused on the same secret every few seconds all day is a
misconfiguration. So, per (account, principal), over a trailing 10-minute window of refused
calls: at least ``refusals`` of them over 3 to 9 distinct APIs (``raw_action``; ten or more is
``access_denied_burst``'s, which fires on its own).

Who sets the bar. A person (IAM user, root, federated or SSO session, a Google user) or a call
signed with a long-term key (an ``AKIA`` access key, a Google service-account key: the
``long_term_key`` enrichment) is the stranger signal: 20 refusals, high. A role or service
account on its own identity (functions, services): 50 refusals, medium. Callers the log does
not name (request logs) are left out.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from detectors.rules.model import RuleMeta, RuleTests
from detectors.rules.python import Fields, PythonRule

DENIED = (
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
    "UnauthorizedAccess",
    "PERMISSION_DENIED",
)
"""Error codes of a refusal for lack of permission (the list of ``access_denied_call``)."""
WINDOW = pd.Timedelta(minutes=10)
FEW_APIS = 3
MANY_APIS = 10
"""From this many distinct APIs on, ``access_denied_burst`` alerts: not this rule's burst."""
PERSON_REFUSALS = 20
WORKLOAD_REFUSALS = 50


def refused(events: pd.DataFrame) -> np.ndarray:
    """Rows of calls refused for lack of permission, by a principal the log names."""
    denied = (events["outcome"] == "failure") & events["error_code"].isin(DENIED)
    named = events["principal"].notna()
    return np.flatnonzero((denied & named).fillna(False).to_numpy(dtype=bool))


def is_stranger(fields: Fields, rows: np.ndarray) -> np.ndarray:
    """A person, or a call signed with a long-term key, for each of ``rows``."""
    human = np.array(fields("principal_is_human", rows)) == "true"
    keyed = np.array(fields("long_term_key", rows)) == "true"
    return human | keyed


def bursts(
    events: pd.DataFrame, fields: Fields, *, strangers: bool, refusals: int
) -> list[np.ndarray]:
    """Row groups, one per burst: the refusals of a principal's merged firing windows."""
    rows = refused(events)
    if not len(rows):
        return []
    rows = rows[is_stranger(fields, rows) == strangers]
    if len(rows) < refusals:
        return []
    # Only the columns read: ``iloc`` over the whole frame takes every column, ``raw``
    # included (~1 s for a 290k-event day's refusals).
    chosen = events[["account", "principal", "raw_action", "time"]].iloc[rows]
    who = chosen["account"].astype("string").fillna("") + "\x1f" + chosen["principal"]
    group = pd.factorize(who)[0]
    api = pd.factorize(chosen["raw_action"].astype("string").fillna(""))[0]
    times = _micros(chosen["time"])
    order = np.lexsort((rows, times, group))
    rows, group, api, times = rows[order], group[order], api[order], times[order]
    span = int(WINDOW / pd.Timedelta(microseconds=1))
    left = _window_starts(group, times, span)
    count = np.arange(len(rows)) - left + 1
    distinct = _distinct_in_windows(api, left)
    fired = np.flatnonzero((count >= refusals) & (distinct >= FEW_APIS) & (distinct < MANY_APIS))
    if not len(fired):
        return []
    # overlapping firing windows of one principal are one burst
    new = np.ones(len(fired), dtype=bool)
    new[1:] = (group[fired[1:]] != group[fired[:-1]]) | (
        times[fired[1:]] - span > times[fired[:-1]]
    )
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(fired)) - 1
    return [rows[left[fired[a]] : fired[b] + 1] for a, b in zip(starts, ends, strict=True)]


def _micros(times: pd.Series) -> np.ndarray:
    return pd.to_datetime(times, utc=True).astype("datetime64[us, UTC]").astype("int64").to_numpy()


def _window_starts(group: np.ndarray, times: np.ndarray, span: int) -> np.ndarray:
    """For rows sorted by (group, time): the first row of the same group at most ``span``
    before each row (the trailing window, both ends closed)."""
    rel = times - times.min()
    key = group.astype(np.int64) * (int(rel.max()) + span + 1) + rel
    return np.searchsorted(key, key - span, side="left").astype(np.int64)


def _distinct_in_windows(values: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Distinct values in each row's window ``[left, row]``: a sliding counter over the
    refusals only (a small part of any batch)."""
    out = np.zeros(len(values), dtype=np.int64)
    counts: dict[int, int] = {}
    start = 0
    vals, lefts = values.tolist(), left.tolist()
    for i, value in enumerate(vals):
        while start < lefts[i]:
            gone = vals[start]
            counts[gone] -= 1
            if not counts[gone]:
                del counts[gone]
            start += 1
        counts[value] = counts.get(value, 0) + 1
        out[i] = len(counts)
    return out


# -- test records: real-shaped CloudTrail records and Cloud Audit Logs entries ------------------

_ACCOUNT = "111122223333"
_AWS_APIS = (
    ("iam.amazonaws.com", "ListRoles", "AccessDenied", None),
    ("lambda.amazonaws.com", "GetFunction20150331v2", "AccessDeniedException", "functionName"),
    ("secretsmanager.amazonaws.com", "GetSecretValue", "AccessDeniedException", "secretId"),
    ("s3.amazonaws.com", "ListBuckets", "AccessDenied", None),
    ("ssm.amazonaws.com", "GetParameter", "AccessDeniedException", "name"),
    ("kms.amazonaws.com", "Decrypt", "AccessDeniedException", None),
    ("dynamodb.amazonaws.com", "Scan", "AccessDeniedException", "tableName"),
    ("sqs.amazonaws.com", "ListQueues", "AccessDenied", None),
    ("ec2.amazonaws.com", "DescribeInstances", "Client.UnauthorizedOperation", None),
    ("sns.amazonaws.com", "ListTopics", "AuthorizationError", None),
    ("logs.amazonaws.com", "DescribeLogGroups", "AccessDeniedException", None),
    ("ecr.amazonaws.com", "DescribeRepositories", "AccessDeniedException", None),
)
_GCP_METHODS = (
    ("secretmanager.googleapis.com",
     "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion"),
    ("iam.googleapis.com", "google.iam.admin.v1.ListServiceAccounts"),
    ("storage.googleapis.com", "storage.objects.get"),
    ("cloudfunctions.googleapis.com", "google.cloud.functions.v2.FunctionService.GetFunction"),
)  # fmt: skip


def _iam_user(name: str, key: str = "AKIAIOSFODNN7EXAMPLE") -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDAJ45Q7YFFAREXAMPLE",
        "arn": f"arn:aws:iam::{_ACCOUNT}:user/{name}",
        "accountId": _ACCOUNT,
        "accessKeyId": key,
        "userName": name,
    }


def _function_role(role: str) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE{len(role):04d}:{role}",
        "arn": f"arn:aws:sts::{_ACCOUNT}:assumed-role/{role}/{role}",
        "accountId": _ACCOUNT,
        "accessKeyId": "ASIAEXAMPLEFN0001",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": f"AROAEXAMPLE{len(role):04d}",
                "arn": f"arn:aws:iam::{_ACCOUNT}:role/{role}",
                "accountId": _ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-11-20T13:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def _aws_refusals(
    tag: str, who: dict[str, Any], apis: int, calls: int, every: int, *, agent: str
) -> list[dict[str, Any]]:
    """``calls`` refused calls by ``who``, cycling over the first ``apis`` APIs, ``every``
    seconds apart from 14:00:00, each naming a resource of its own where the API takes one."""
    records = []
    for n in range(calls):
        source, name, code, key = _AWS_APIS[n % apis]
        second = 7200 + n * every
        records.append(
            {
                "eventVersion": "1.09",
                "userIdentity": who,
                "eventTime": f"2026-11-20T{second // 3600:02d}:{second // 60 % 60:02d}:"
                f"{second % 60:02d}Z",
                "eventSource": source,
                "eventName": name,
                "awsRegion": "eu-central-1",
                "sourceIPAddress": "203.0.113.77",
                "userAgent": agent,
                "errorCode": code,
                "errorMessage": f"User: {who['arn']} is not authorized to perform: "
                f"{source.split('.')[0]}:{name}",
                "requestParameters": {key: f"prod-{n}"} if key else None,
                "responseElements": None,
                "requestID": f"{tag}-req-{n:03d}",
                "eventID": f"{tag}-0000-4000-8000-{n:012d}",
                "readOnly": True,
                "eventType": "AwsApiCall",
                "managementEvent": True,
                "recipientAccountId": _ACCOUNT,
                "eventCategory": "Management",
            }
        )
    return records


def _gcp_refusals(
    tag: str, email: str, methods: int, calls: int, every: int, *, key: str | None = None
) -> list[dict[str, Any]]:
    """Refused Cloud Audit Logs entries (Data Access log: refused reads are logged there)."""
    auth: dict[str, Any] = {"principalEmail": email}
    if key:
        auth["serviceAccountKeyName"] = (
            f"//iam.googleapis.com/projects/shop-prod/serviceAccounts/{email}/keys/{key}"
        )
    entries = []
    for n in range(calls):
        service, method = _GCP_METHODS[n % methods]
        second = 7200 + n * every
        entries.append(
            {
                "logName": "projects/shop-prod/logs/cloudaudit.googleapis.com%2Fdata_access",
                "resource": {"type": "audited_resource", "labels": {"project_id": "shop-prod"}},
                "severity": "ERROR",
                "insertId": f"{tag}{n:04d}",
                "timestamp": f"2026-11-20T{second // 3600:02d}:{second // 60 % 60:02d}:"
                f"{second % 60:02d}.000000Z",
                "protoPayload": {
                    "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                    "status": {"code": 7, "message": "PERMISSION_DENIED"},
                    "authenticationInfo": auth,
                    "requestMetadata": {
                        "callerIp": "203.0.113.80",
                        "callerSuppliedUserAgent": "google-cloud-sdk gcloud/468.0.0",
                    },
                    "serviceName": service,
                    "methodName": method,
                    "authorizationInfo": [{"permission": f"{service}.get", "granted": False}],
                    "resourceName": f"projects/shop-prod/resources/item-{n}",
                },
            }
        )
    return entries


_CLI = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 botocore/2.4.5"
_LAMBDA = "Boto3/1.34.0 md/Botocore#1.34.0 exec-env/AWS_Lambda_python3.12"
_STEADY = _aws_refusals(
    "5e1d0001", _function_role("report-gen"), 1, 60, 10, agent=_LAMBDA
)  # the misconfigured function: one secret refused every ten seconds
_RUNBOOK = (
    "1. Which APIs and resources were refused, and which calls of the same principal and source"
    " IP SUCCEEDED around them? Those are what the caller learned or did.\n"
    "2. Is the source IP and user agent the principal's usual one (a workstation, a VPN, a"
    " function's egress)? A long-term key used from a new address is the classic leak.\n"
    "3. If not expected: deactivate the access key / disable the service-account key, revoke"
    " the sessions, and find where the credential was exposed (repository, CI logs, a"
    " function's environment)."
)
_TAGS = (
    "T1526",
    "T1580",
    "T1078.004",
    "attack.discovery",
    "attack.credential_access",
    "functrail.python",
)


ACCESS_DENIED_BURST_PERSON = PythonRule(
    meta=RuleMeta(
        rule_id="access_denied_burst_person",
        title="Burst of refused calls over a few APIs by a person or a long-term key",
        kind="python",
        severity="high",
        score=0.75,
        tags=_TAGS,
        runbook=_RUNBOOK,
        dedup=("account", "principal"),
        title_template=(
            "{principal} was refused {raw_action} and other calls 20+ times within 10 minutes"
            " from {source_ip}"
        ),
        description=__doc__ or "",
        log_types=("management", "activity", "data_access"),
        builtin=True,
        tests=RuleTests(
            positive_sets=[
                # 30 refusals over 6 APIs in 6 minutes with a leaked IAM user key
                _aws_refusals("a1b2c001", _iam_user("backup-sync"), 6, 30, 12, agent=_CLI),
                # a CI user's long-term key: not a person, still a key anyone can copy
                _aws_refusals("a1b2c002", _iam_user("ci-deploy"), 3, 24, 20, agent=_CLI),
                _gcp_refusals("-pbp01", "dana@shop.example", 4, 24, 15),
                _gcp_refusals(
                    "-pbp02", "etl@shop-prod.iam.gserviceaccount.com", 3, 21, 20, key="1f2e3d4c"
                ),
            ],
            negative=[
                *_STEADY,
                # below the bar: 15 refusals over 3 APIs
                *_aws_refusals("a1b2c003", _iam_user("kim"), 3, 15, 20, agent=_CLI),
                # one API refused over and over: a script retrying, not someone exploring
                *_aws_refusals("a1b2c004", _iam_user("sam"), 1, 30, 10, agent=_CLI),
                # ten APIs and more: access_denied_burst's alert, not this one
                *_aws_refusals("a1b2c005", _iam_user("alex"), 12, 36, 10, agent=_CLI),
                # the same 30-over-6 burst by a function role: the workload bar is higher
                *_aws_refusals("a1b2c006", _function_role("img-resize"), 6, 30, 12, agent=_LAMBDA),
                *_gcp_refusals("-pbn01", "fn-orders@shop-prod.iam.gserviceaccount.com", 4, 24, 15),
            ],
        ),
    ),
    function=partial(bursts, strangers=True, refusals=PERSON_REFUSALS),
    reads=frozenset(
        {"outcome", "error_code", "principal", "raw_action", "time", "principal_is_human"}
    ),
    raw_reads=frozenset({"long_term_key"}),
    candidates=refused,
    window=WINDOW,
)

ACCESS_DENIED_BURST_WORKLOAD = PythonRule(
    meta=RuleMeta(
        rule_id="access_denied_burst_workload",
        title="Burst of refused calls over a few APIs by a role or service account",
        kind="python",
        severity="medium",
        score=0.5,
        tags=_TAGS,
        runbook=_RUNBOOK,
        dedup=("account", "principal"),
        title_template=(
            "{principal} was refused {raw_action} and other calls 50+ times within 10 minutes"
            " from {source_ip}"
        ),
        description=__doc__ or "",
        log_types=("management", "activity", "data_access"),
        builtin=True,
        tests=RuleTests(
            positive_sets=[
                # a function's role refused 60 times over 4 APIs: new code, or its credentials
                # used from elsewhere
                _aws_refusals("b2c3d001", _function_role("img-resize"), 4, 60, 8, agent=_CLI),
                _gcp_refusals("-pbw01", "fn-orders@shop-prod.iam.gserviceaccount.com", 3, 54, 9),
            ],
            negative=[
                *_STEADY,
                *_aws_refusals("b2c3d002", _function_role("thumbs"), 3, 45, 12, agent=_LAMBDA),
                # a person's burst is the person rule's
                *_aws_refusals("b2c3d003", _iam_user("backup-sync"), 4, 60, 8, agent=_CLI),
                *_gcp_refusals(
                    "-pbw02", "etl@shop-prod.iam.gserviceaccount.com", 3, 54, 9, key="1f2e3d4c"
                ),
            ],
        ),
    ),
    function=partial(bursts, strangers=False, refusals=WORKLOAD_REFUSALS),
    reads=frozenset(
        {"outcome", "error_code", "principal", "raw_action", "time", "principal_is_human"}
    ),
    raw_reads=frozenset({"long_term_key"}),
    candidates=refused,
    window=WINDOW,
)
