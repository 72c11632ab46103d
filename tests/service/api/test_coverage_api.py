"""GET /v1/coverage: each account's status and reasons over HTTP, roles, the `at` parameter."""

from __future__ import annotations

from datetime import timedelta

from pipelines.lake import EventLake
from pipelines.source_health import record_attempt
from tests.detectors.coverage.conftest import AT, BEGIN, gcp_fields, lambda_invokes, steady
from tests.factories import ACCOUNT, events
from tests.service.api.conftest import Api, assert_problem

HOUR = timedelta(hours=1)
AT_PARAM = {"at": AT.isoformat()}


def store(api: Api, rows) -> None:
    EventLake(api.settings.lake_root).append(events(*rows))


def coverage(api: Api, role: str = "viewer", **params):
    return api.client.get("/v1/coverage", params=params, headers=api.headers(role))


def test_viewers_read_coverage_and_ingest_keys_or_no_key_may_not(api):
    assert coverage(api, **AT_PARAM).status_code == 200
    assert_problem(coverage(api, role="ingest"), 403)
    assert_problem(api.client.get("/v1/coverage"), 401)


def test_an_empty_lake_has_no_items(api):
    body = coverage(api).json()
    assert body["items"] == []
    assert body["next_cursor"] is None


def test_each_account_has_its_status_reasons_and_log_types(api):
    store(
        api,
        steady(BEGIN, AT, 4)
        + steady(BEGIN, AT - 12 * HOUR, 4, **lambda_invokes())
        + steady(BEGIN, AT - 9 * HOUR, 2, **gcp_fields("activity")),
    )
    body = coverage(api, **AT_PARAM).json()
    assert body["at"] == "2026-03-16T12:00:00Z"
    items = {(i["provider"], i["account"]): i for i in body["items"]}
    aws, gcp = items[("aws", ACCOUNT)], items[("gcp", "shop-prod")]
    assert aws["status"] == "degraded"
    assert aws["reasons"][0].startswith("lambda_data: no Lambda data events for 12 h")
    assert aws["events_24h"] == 96 + 48
    assert aws["baseline_per_day"] == 192.0
    assert aws["last_event"] == "2026-03-16T11:45:00Z"
    assert [(t["name"], t["events_24h"]) for t in aws["log_types"]] == [
        ("lambda_data", 48),
        ("management", 96),
    ]
    assert gcp["status"] == "silent"
    assert gcp["reasons"][0] == (
        "no events for 10 h, when ~19 usually come (~48 a day); last at 2026-03-16T02:30:00Z"
    )
    assert "gcp_secret_manager_bulk_access" in gcp["rules_without_data"]


def test_sources_that_keep_failing_are_listed(api):
    for _ in range(3):
        record_attempt(api.settings, "s3://trail/AWSLogs/", "ClientError: AccessDenied")
    record_attempt(api.settings, "gcp-logging://shop-prod", "TimeoutError")
    [source] = coverage(api).json()["failing_sources"]
    assert source["uri"] == "s3://trail/AWSLogs/"
    assert source["failures"] == 3
    assert source["last_error"] == "ClientError: AccessDenied"


def test_a_bad_time_is_a_422(api):
    assert_problem(coverage(api, at="not a time"), 422)
    assert_problem(coverage(api, at="3000-01-01T00:00:00Z"), 422)
