"""Access-denied detections: bursts over a few APIs, sweeps over many resources, weighted by who,
and quiet on a function that fails the same call all day."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import yaml

from detectors.rules.engine import match_rules, run_rules
from detectors.rules.loader import PACK_DIR, load_rules
from detectors.rules.python.access_denied import (
    ACCESS_DENIED_BURST_PERSON,
    ACCESS_DENIED_BURST_WORKLOAD,
    DENIED,
)
from pipelines.normalize import normalize_blob
from tests.factories import ACCOUNT, BASE_TIME, HOSTILE, cloudtrail_record, json_lines, log_entry

ACCESS_DENIED_RULES = [
    r for r in load_rules().rules if r.meta.rule_id.startswith("access_denied") and r.meta.generate
]
APIS = [
    ("iam.amazonaws.com", "ListRoles"),
    ("lambda.amazonaws.com", "GetFunction20150331v2"),
    ("secretsmanager.amazonaws.com", "GetSecretValue"),
    ("s3.amazonaws.com", "ListBuckets"),
    ("ssm.amazonaws.com", "GetParameter"),
    ("kms.amazonaws.com", "Decrypt"),
    ("dynamodb.amazonaws.com", "Scan"),
    ("sqs.amazonaws.com", "ListQueues"),
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("sns.amazonaws.com", "ListTopics"),
    ("logs.amazonaws.com", "DescribeLogGroups"),
    ("ecr.amazonaws.com", "DescribeRepositories"),
]


def iam_user(name: str) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "userName": name,
    }


def function_role(name: str) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{name}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}-role/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}-role",
                "accountId": ACCOUNT,
                "userName": f"{name}-role",
            }
        },
    }


def refusals(
    who: dict[str, Any], *, calls: int, apis: int, every: float, resources: bool = False
) -> list[dict[str, Any]]:
    """``calls`` refused calls ``every`` seconds, cycling over ``apis`` APIs; with ``resources``
    each names a function of its own (else all name the same one)."""
    out = []
    for n in range(calls):
        source, name = APIS[n % apis]
        out.append(
            cloudtrail_record(
                userIdentity=who,
                eventSource=source,
                eventName=name,
                eventTime=(BASE_TIME + timedelta(seconds=n * every)).strftime(
                    "%Y-%m-%dT%H:%M:%S.%fZ"
                ),
                errorCode="AccessDeniedException",
                errorMessage="not authorized",
                requestParameters={"functionName": f"fn-{n}" if resources else "billing"},
            )
        )
    return out


def gcp_refusals(email: str, *, calls: int, methods: int, key: bool = False) -> list[dict]:
    auth: dict[str, Any] = {"principalEmail": email}
    if key:
        auth["serviceAccountKeyName"] = (
            f"//iam.googleapis.com/projects/p/serviceAccounts/{email}/keys/k1"
        )
    out = []
    for n in range(calls):
        entry = log_entry(
            logName="projects/demo-proj/logs/cloudaudit.googleapis.com%2Fdata_access",
            timestamp=(BASE_TIME + timedelta(seconds=n * 10)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        entry["protoPayload"].update(
            status={"code": 7, "message": "PERMISSION_DENIED"},
            authenticationInfo=auth,
            methodName=f"google.cloud.secretmanager.v1.SecretManagerService.Method{n % methods}",
            serviceName="secretmanager.googleapis.com",
        )
        out.append(entry)
    return out


def detect(records: list[dict[str, Any]], rules=None) -> Counter[tuple[str, str]]:
    batch = normalize_blob(json_lines(*records), "test.jsonl")
    assert batch.rejects == []
    alerts = run_rules(batch.events, rules or ACCESS_DENIED_RULES)
    return Counter((a.rule_id, a.severity) for a in alerts)


def test_a_person_refused_30_times_over_6_apis_in_6_minutes_is_a_high_alert():
    found = detect(refusals(iam_user("mallory"), calls=30, apis=6, every=12))
    assert found == Counter({("access_denied_burst_person", "high"): 1})


def test_the_same_burst_by_a_function_role_stays_below_the_workload_bar():
    assert detect(refusals(function_role("thumbs"), calls=30, apis=6, every=12)) == Counter()


def test_a_function_role_refused_60_times_over_4_apis_is_a_medium_alert():
    found = detect(refusals(function_role("thumbs"), calls=60, apis=4, every=8))
    assert found == Counter({("access_denied_burst_workload", "medium"): 1})


def test_one_api_over_25_functions_in_seconds_is_caught_for_a_role_and_a_person():
    role = detect(refusals(function_role("thumbs"), calls=25, apis=1, every=0.5, resources=True))
    person = detect(refusals(iam_user("mallory"), calls=25, apis=1, every=0.5, resources=True))
    assert role == Counter({("access_denied_resource_sweep_workload", "medium"): 1})
    assert person == Counter({("access_denied_resource_sweep_person", "high"): 1})


def test_a_person_is_held_to_a_lower_bar_over_resources():
    few = refusals(iam_user("mallory"), calls=9, apis=1, every=5, resources=True)
    assert detect(few) == Counter({("access_denied_resource_sweep_person", "high"): 1})
    role = refusals(function_role("thumbs"), calls=9, apis=1, every=5, resources=True)
    assert detect(role) == Counter()


def test_a_function_failing_the_same_call_on_the_same_resource_all_day_raises_nothing():
    steady = refusals(function_role("report-gen"), calls=8640, apis=1, every=10)
    assert detect(steady) == Counter()


def test_a_recon_over_ten_apis_is_access_denied_bursts_alone():
    found = detect(refusals(iam_user("mallory"), calls=40, apis=12, every=5))
    assert found == Counter({("access_denied_burst", "high"): 1})


def test_a_google_service_account_key_is_weighed_like_a_person():
    keyed = gcp_refusals("etl@p.iam.gserviceaccount.com", calls=24, methods=3, key=True)
    attached = gcp_refusals("fn@p.iam.gserviceaccount.com", calls=24, methods=3)
    assert detect(keyed) == Counter({("access_denied_burst_person", "high"): 1})
    assert detect(attached) == Counter()


def test_the_burst_alert_holds_every_refusal_of_the_window_and_names_the_principal():
    records = refusals(iam_user("mallory"), calls=30, apis=6, every=12)
    batch = normalize_blob(json_lines(*records), "t.jsonl")
    [alert] = run_rules(batch.events, [ACCESS_DENIED_BURST_PERSON])
    assert alert.principal == f"arn:aws:iam::{ACCOUNT}:user/mallory"
    assert alert.count == 30
    assert sorted(alert.evidence.event_ids) == sorted(r["eventID"] for r in records)


def test_the_long_term_key_is_read_when_the_batch_comes_without_raw():
    records = gcp_refusals("etl@p.iam.gserviceaccount.com", calls=24, methods=3, key=True)
    events = normalize_blob(json_lines(*records), "t.jsonl").events
    raw = dict(zip(events["id"], events["raw"], strict=True))
    fetched: list[int] = []

    def fetch(ids):
        fetched.append(len(ids))
        return {i: raw[i] for i in ids}

    without = events.assign(raw=None)
    _, matches = match_rules(without, [ACCESS_DENIED_BURST_PERSON], raw_fetch=fetch)
    [group] = matches["access_denied_burst_person"]
    assert len(group) == 24
    assert fetched[0] == 24  # the refusals' records, in one call


def test_hostile_principal_names_reach_the_title_escaped():
    who = iam_user(HOSTILE.replace("/", "_"))
    [alert] = run_rules(
        normalize_blob(json_lines(*refusals(who, calls=30, apis=6, every=12)), "t").events,
        [ACCESS_DENIED_BURST_PERSON],
    )
    assert "\u0007" not in alert.title
    assert "\\x07" in alert.title


def test_the_python_rules_and_the_sigma_bases_refuse_the_same_error_codes():
    for path in ("auth/access_denied_burst.yml", "auth/access_denied_resource_sweep.yml"):
        for doc in yaml.safe_load_all((PACK_DIR / path).read_text(encoding="utf-8")):
            refused = doc.get("detection", {}).get("refused") or doc.get("detection", {}).get(
                "selection", {}
            )
            if "error_code" in refused:
                assert set(refused["error_code"]) == set(DENIED), (path, doc["name"])


@pytest.mark.parametrize("rule", [ACCESS_DENIED_BURST_PERSON, ACCESS_DENIED_BURST_WORKLOAD])
def test_requests_the_log_does_not_name_a_caller_for_are_left_out(rule):
    records = refusals(iam_user("mallory"), calls=30, apis=6, every=12)
    events = normalize_blob(json_lines(*records), "t.jsonl").events.assign(principal=None)
    _, matches = match_rules(events, [rule])
    assert matches[rule.meta.rule_id] == []


@pytest.mark.parametrize("rule", [ACCESS_DENIED_BURST_PERSON, ACCESS_DENIED_BURST_WORKLOAD])
def test_the_python_rules_are_part_of_the_pack(rule):
    assert rule.meta.builtin
