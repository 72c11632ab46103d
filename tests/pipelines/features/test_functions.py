"""Functions' configuration from the audit log: names, timeout, memory, concurrency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from pipelines.features.functions import config_at, config_changes, function_name
from tests.factories import ACCOUNT, event, events

T0 = datetime(2026, 3, 5, 9, tzinfo=UTC)


def _change(action: str, minutes: int, raw: dict, resource: str = "orders") -> dict:
    return event(
        time=T0 + timedelta(minutes=minutes),
        action=action,
        category="modification",
        resource=resource,
        principal=f"arn:aws:iam::{ACCOUNT}:role/terraform",
        read_only=False,
        raw=raw,
    )


def test_function_name_is_one_for_arn_path_and_bare_name() -> None:
    names = function_name(
        pd.Series(
            [
                f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:orders",
                f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:orders:live",
                "projects/p/locations/europe-west3/functions/orders",
                "namespaces/p/services/orders",
                "orders",
                None,
            ]
        )
    )
    assert list(names) == ["orders"] * 5 + [""]


def test_config_changes_read_lambda_and_cloud_functions_settings() -> None:
    gcp = {
        "protoPayload": {
            "request": {
                "function": {"serviceConfig": {"timeoutSeconds": 540, "availableMemory": "1Gi"}}
            }
        }
    }
    changes = config_changes(
        events(
            _change("CreateFunction", 0, {"requestParameters": {"timeout": 60, "memorySize": 256}}),
            _change(
                "PutFunctionConcurrency",
                1,
                {"requestParameters": {"reservedConcurrentExecutions": 5}},
            ),
            _change(
                "DeleteFunctionConcurrency", 2, {"requestParameters": {"functionName": "orders"}}
            ),
            _change("UpdateFunction", 3, gcp, resource="projects/p/locations/l/functions/resize"),
            _change("GetFunction", 4, {}),
        )
    )
    rows = changes[
        ["function", "action", "timeout_s", "memory_mb", "concurrency", "concurrency_removed"]
    ]
    assert rows.fillna(-1).values.tolist() == [
        ["orders", "CreateFunction", 60.0, 256.0, -1, False],
        ["orders", "PutFunctionConcurrency", -1, -1, 5.0, False],
        ["orders", "DeleteFunctionConcurrency", -1, -1, -1, True],
        ["resize", "UpdateFunction", 540.0, 1024.0, -1, False],
    ]


def test_config_at_takes_each_setting_from_its_last_event_and_lists_recent_raises() -> None:
    changes = config_changes(
        events(
            _change("CreateFunction", 0, {"responseElements": {"timeout": 30, "memorySize": 512}}),
            _change(
                "UpdateFunctionConfiguration",
                60,
                {"responseElements": {"timeout": 900, "memorySize": 512}},
            ),
            _change("DeleteFunctionConcurrency", 61, {}),
            _change("UpdateFunctionConfiguration", 600, {"responseElements": {"timeout": 30}}),
        )
    )
    before = config_at(changes, "aws", ACCOUNT, "orders", pd.Timestamp(T0 + timedelta(hours=2)))
    assert (before.timeout_s, before.memory_mb) == (900.0, 512.0)
    assert before.source == "UpdateFunctionConfiguration by terraform 2026-03-05 10:00 UTC"
    assert before.raised == (
        "timeout 30 -> 900 s by terraform 2026-03-05 10:00 UTC",
        "reserved concurrency removed by terraform 2026-03-05 10:01 UTC",
    )
    later = config_at(changes, "aws", ACCOUNT, "orders", pd.Timestamp(T0 + timedelta(days=9)))
    assert later.timeout_s == 30.0
    assert later.raised == ()  # the raise is older than the lookback
