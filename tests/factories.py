"""Factories for normalized events and raw audit records, so tests state only what matters."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa

from detectors.alert import Alert, Evidence, alert_id, dedup_key
from pipelines.events import EVENT_SCHEMA, events_from_arrow

_ids = itertools.count(1)
_seconds = itertools.count(1)
"""The factories' event clock, apart from the ids: bulk id use (``routine_events``) does not move
it, and ``reset_clock`` (each test module, tests/conftest.py) brings it back, so a worker's
events stay on BASE_TIME's day however many tests it runs."""


def reset_clock() -> None:
    """Start the event clock again at BASE_TIME (ids stay unique for the whole session)."""
    global _seconds
    _seconds = itertools.count(1)


BASE_TIME = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)> '; DROP TABLE alerts;-- \u202e\u0007 🐍"
"""what an attacker puts in a name: markup, SQL, a bidi override, a bell and an emoji"""
ACCOUNT = "210987654321"


def event(**fields: Any) -> dict[str, Any]:
    """One normalized event (a dict of the event model) with plausible AWS defaults."""
    n, t = next(_ids), next(_seconds)
    row: dict[str, Any] = {
        "id": f"evt-{n:08d}",
        "time": BASE_TIME + timedelta(seconds=t),
        "provider": "aws",
        "account": ACCOUNT,
        "region": "eu-central-1",
        "service": "lambda.amazonaws.com",
        "action": "GetFunction",
        "raw_action": "GetFunction20150331v2",
        "category": "access",
        "principal": f"arn:aws:iam::{ACCOUNT}:user/sam",
        "principal_type": "user",
        "session": None,
        "source_ip": "192.0.2.10",
        "user_agent": "aws-cli/2.15.0",
        "resource": "billing",
        "outcome": "success",
        "error_code": None,
        "read_only": True,
        "mfa": None,
        "raw": {},
    }
    row.update(fields)
    if not isinstance(row["raw"], str):
        row["raw"] = orjson.dumps(row["raw"]).decode()
    return row


_hour_seconds = itertools.count(1)


def hour_event(**fields: Any) -> dict[str, Any]:
    """``event`` timed within the hour after BASE_TIME (a second later each call, wrapping),
    whatever the shared id counter has reached: for tests that search BASE_TIME's day (the
    ``event`` clock moves a second per event made anywhere in the session)."""
    fields.setdefault("time", BASE_TIME + timedelta(seconds=next(_hour_seconds) % 3600))
    return event(**fields)


_copies = itertools.count(1)


def copies(n: int, fields: Callable[[int], dict[str, Any]], **common: Any) -> list[dict[str, Any]]:
    """``n`` events from one ``event(**common)`` call, the i-th with ``fields(i)`` on top and its
    own id: the factories' clock (shared by the session) moves one second per ``event`` call,
    and thousands of calls would carry later tests' default times past midnight."""
    template = event(**common)
    batch = next(_copies)
    out = []
    for i in range(n):
        row = {**template, "id": f"copy-{batch:05d}-{i:06d}", **fields(i)}
        if not isinstance(row["raw"], str):
            row["raw"] = orjson.dumps(row["raw"]).decode()
        out.append(row)
    return out


def events(*rows: dict[str, Any]) -> pd.DataFrame:
    """A batch (DataFrame with the event schema) from ``event()`` dicts."""
    return events_from_arrow(pa.Table.from_pylist(list(rows), schema=EVENT_SCHEMA))


def cloudtrail_record(**fields: Any) -> dict[str, Any]:
    """A CloudTrail record in the shape AWS documents, an IAM user calling Lambda by default."""
    n, t = next(_ids), next(_seconds)
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/sam",
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLE",
            "userName": "sam",
        },
        "eventTime": (BASE_TIME + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "lambda.amazonaws.com",
        "eventName": "GetFunction20150331v2",
        "awsRegion": "eu-central-1",
        "sourceIPAddress": "192.0.2.10",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"functionName": "billing"},
        "responseElements": None,
        "requestID": f"req-{n}",
        "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    record.update(fields)
    return record


def public_add_permission(**fields: Any) -> dict[str, Any]:
    """The textbook public-function record: AddPermission to ``*`` with no source condition."""
    return cloudtrail_record(
        eventName="AddPermission20150331v2",
        readOnly=False,
        requestParameters={
            "functionName": "billing",
            "statementId": "open",
            "action": "lambda:InvokeFunction",
            "principal": "*",
        },
        **fields,
    )


def user_arn(name: str) -> str:
    """An IAM user of the factories' account."""
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def failed_console_login(user: str, **fields: Any) -> dict[str, Any]:
    """A failed ConsoleLogin as ``user`` from one address: the brute-force correlation's base
    row (grouped by account and source address, not by principal)."""
    return event(
        **{
            "principal": user_arn(user),
            "service": "signin.amazonaws.com",
            "action": "ConsoleLogin",
            "raw_action": "ConsoleLogin",
            "category": "authentication",
            "outcome": "failure",
            "source_ip": "203.0.113.77",
            "raw": {"userIdentity": {"userName": user}},
            **fields,
        }
    )


def concurrency_zero(**fields: Any) -> dict[str, Any]:
    """A PutFunctionConcurrency to 0 (the function is switched off): the concurrency-zero rule's
    event, one row per call with the same (account, resource) dedup key."""
    return event(
        service="lambda.amazonaws.com",
        action="PutFunctionConcurrency",
        raw_action="PutFunctionConcurrency20171031",
        category="modification",
        read_only=False,
        resource="log-forwarder",
        raw={"requestParameters": {"reservedConcurrentExecutions": 0}},
        **fields,
    )


def log_entry(**fields: Any) -> dict[str, Any]:
    """A Cloud Audit Logs LogEntry as the Logging API returns it (Admin Activity by default)."""
    n, t = next(_ids), next(_seconds)
    entry: dict[str, Any] = {
        "insertId": f"gcp-{n:08d}",
        "logName": "projects/demo-proj/logs/cloudaudit.googleapis.com%2Factivity",
        "timestamp": (BASE_TIME + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "receiveTimestamp": (BASE_TIME + timedelta(seconds=t + 1)).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        ),
        "severity": "NOTICE",
        "resource": {
            "type": "cloud_function",
            "labels": {
                "project_id": "demo-proj",
                "region": "europe-west3",
                "function_name": "hook",
            },
        },
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "status": {},
            "authenticationInfo": {"principalEmail": "kim@example.org"},
            "requestMetadata": {"callerIp": "198.51.100.3", "callerSuppliedUserAgent": "gcloud"},
            "serviceName": "cloudfunctions.googleapis.com",
            "methodName": "google.cloud.functions.v2.FunctionService.UpdateFunction",
            "resourceName": "projects/demo-proj/locations/europe-west3/functions/hook",
        },
    }
    entry.update(fields)
    return entry


def request_log(**fields: Any) -> dict[str, Any]:
    """A Cloud Run request log (``run.googleapis.com/requests``): no protoPayload, no caller."""
    n, t = next(_ids), next(_seconds)
    entry: dict[str, Any] = {
        "insertId": f"req-{n:08d}",
        "logName": "projects/demo-proj/logs/run.googleapis.com%2Frequests",
        "timestamp": (BASE_TIME + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "severity": "INFO",
        "resource": {
            "type": "cloud_run_revision",
            "labels": {
                "project_id": "demo-proj",
                "location": "europe-west3",
                "service_name": "checkout",
                "revision_name": "checkout-00042-xyz",
                "configuration_name": "checkout",
            },
        },
        "httpRequest": {
            "requestMethod": "POST",
            "requestUrl": "https://checkout-abc123-ey.a.run.app/pay",
            "status": 200,
            "userAgent": "Mozilla/5.0",
            "remoteIp": "203.0.113.10",
            "latency": "0.041s",
        },
        "trace": "projects/demo-proj/traces/0af7651916cd43dd8448eb211c80319c",
    }
    entry.update(fields)
    return entry


def cloudtrail_file(*records: dict[str, Any], compress: bool = False) -> bytes:
    """A CloudTrail S3 log file ``{"Records": [...]}`` (gzip when ``compress``)."""
    import gzip

    data = orjson.dumps({"Records": list(records)})
    return gzip.compress(data) if compress else data


def json_lines(*objects: Any) -> bytes:
    """JSON lines, one object per line (bare records, sink files, envelopes)."""
    return b"".join(orjson.dumps(obj) + b"\n" for obj in objects)


def alert(**fields: Any) -> Alert:
    """One Alert with plausible defaults (a rule alert on a Lambda function); ids follow the key."""
    n = next(_ids)
    # Milliseconds: ordered by creation, yet a whole suite of calls stays on BASE_TIME's day.
    first_seen = fields.pop("first_seen", BASE_TIME + timedelta(milliseconds=n))
    detector = fields.pop("detector", "rule")
    rule_id = fields.pop("rule_id", "aws_lambda_public_add_permission")
    principal = fields.pop("principal", f"arn:aws:iam::{ACCOUNT}:user/sam")
    resource = fields.pop("resource", f"fn-{n}")
    key = fields.pop("dedup_key", dedup_key(detector, rule_id, ACCOUNT, principal, resource))
    values: dict[str, Any] = {
        "id": alert_id(key, first_seen),
        "dedup_key": key,
        "detector": detector,
        "rule_id": rule_id,
        "title": f"{principal} made function {resource} public",
        "severity": "high",
        "score": 0.9,
        "provider": "aws",
        "account": ACCOUNT,
        "principal": principal,
        "resource": resource,
        "first_seen": first_seen,
        "last_seen": first_seen,
        "tags": ["T1098", "exposure"],
        "evidence": Evidence(event_ids=[f"evt-{n:08d}"]),
        "runbook": "Check who added the permission and whether the function should be public.",
    }
    values.update(fields)
    return Alert(**values)


def routine_activity(
    days: int,
    *,
    principals: int = 6,
    per_hour: int = 20,
    start: datetime | None = None,
    seed: int = 7,
) -> pd.DataFrame:
    """Weeks of dull, regular work: each principal calls the same few Lambda actions from its
    own address, agent and region during office hours (08-18 UTC). A baseline to train on."""
    import numpy as np  # local: the rest of the factories do not need it

    start = start or BASE_TIME.replace(hour=0)
    rng = np.random.default_rng(seed)
    actions = ["GetFunction", "ListFunctions", "Invoke", "GetFunctionConfiguration"]
    categories = {"GetFunction": "access", "ListFunctions": "access", "Invoke": "invocation",
                  "GetFunctionConfiguration": "access"}  # fmt: skip
    times: list[datetime] = []
    who: list[int] = []
    action: list[str] = []
    for day in range(days):
        for hour in range(8, 18):
            for p in range(principals):
                n = int(rng.poisson(per_hour))
                base = start + timedelta(days=day, hours=hour)
                times.extend(base + timedelta(seconds=int(s)) for s in rng.integers(0, 3600, n))
                who.extend([p] * n)
                action.extend(rng.choice(actions, n).tolist())
    n_rows = len(times)
    who_arr = np.asarray(who)
    first = next(_ids)
    for _ in range(n_rows):
        next(_ids)
    table = pa.table(
        {
            "id": [f"evt-r{first + i:09d}" for i in range(n_rows)],
            "time": pa.array(times, pa.timestamp("us", tz="UTC")),
            "provider": ["aws"] * n_rows,
            "account": [ACCOUNT] * n_rows,
            "region": ["eu-central-1"] * n_rows,
            "service": ["lambda.amazonaws.com"] * n_rows,
            "action": action,
            "raw_action": action,
            "category": [categories[a] for a in action],
            "principal": [f"arn:aws:iam::{ACCOUNT}:user/dev{p}" for p in who_arr],
            "principal_type": ["user"] * n_rows,
            "session": [None] * n_rows,
            "source_ip": [f"192.0.2.{10 + p}" for p in who_arr],
            "user_agent": ["aws-cli/2.15.0"] * n_rows,
            "resource": [f"fn-{p % 3}" for p in who_arr],
            "outcome": ["success"] * n_rows,
            "error_code": [None] * n_rows,
            "read_only": [a != "Invoke" for a in action],
            "mfa": [None] * n_rows,
            "raw": ["{}"] * n_rows,
            "origin": [None] * n_rows,
        }
    )
    return events_from_arrow(table.cast(EVENT_SCHEMA)).sort_values("time", ignore_index=True)


def gzip_bomb(inflated_bytes: int) -> bytes:
    """A gzip that inflates to ``inflated_bytes`` of JSON-looking whitespace (~1000:1): what a
    decompression bomb sends. Built in 1 MiB steps, never held whole."""
    import zlib

    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [packer.compress(b'{"Records":[')]
    step = b" " * (1 << 20)
    for _ in range(inflated_bytes // len(step)):
        parts.append(packer.compress(step))
    parts += [packer.compress(b"]}"), packer.flush()]
    return b"".join(parts)
