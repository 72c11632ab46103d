"""Limits (413/414/422), security headers, and 500s that never show a trace or SQL."""

from __future__ import annotations

import logging

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from service.alerts import routes as alert_routes
from service.api import errors
from tests.service.api.conftest import assert_problem


def test_body_over_the_limit_is_413(api):
    response = api.client.post(
        "/v1/events", content=b"x" * (65 * 1024), headers=api.headers("ingest")
    )
    assert_problem(response, 413)


def test_chunked_body_over_the_limit_is_413(api):
    def chunks():
        for _ in range(100):
            yield b"y" * 1024

    response = api.client.post("/v1/events", content=chunks(), headers=api.headers("ingest"))
    assert_problem(response, 413)


def test_overlong_query_string_is_414(api):
    response = api.client.get("/v1/alerts?q=" + "a" * 5000, headers=api.headers("viewer"))
    assert_problem(response, 414)


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=100000",
        "severity=urgent",
        "status=gone",
        "since=yesterday",
        "q=" + "a" * 201,
    ],
)
def test_bad_query_parameters_are_422(api, query):
    assert_problem(api.client.get(f"/v1/alerts?{query}", headers=api.headers("viewer")), 422)


def test_unknown_route_is_404_problem(api):
    assert_problem(api.client.get("/v1/nothing-here", headers=api.headers("viewer")), 404)


def test_database_error_is_500_without_trace_or_sql(api, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError(
            "SELECT secret FROM alerts WHERE 1=1", {}, Exception("disk I/O error")
        )

    monkeypatch.setattr(alert_routes, "list_alert_json", broken)
    monkeypatch.setattr(alert_routes, "list_alert_json_async", broken)
    response = api.client.get("/v1/alerts", headers=api.headers("viewer"))
    body = assert_problem(response, 500)
    assert "secret" not in response.text
    assert "disk" not in response.text
    assert body["detail"].startswith("internal error (reference ")
    assert response.headers["x-content-type-options"] == "nosniff"


REFUSED = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: refused'


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError(REFUSED),  # the event-loop reads raise the driver's own
        psycopg.OperationalError(""),  # a message of no line
        OperationalError("SELECT 1", {}, psycopg.OperationalError(REFUSED)),  # via SQLAlchemy
    ],
    ids=["psycopg", "empty", "sqlalchemy"],
)
def test_an_unreachable_database_is_503_with_retry_after_and_one_log_line(
    api, monkeypatch, caplog, error
):
    def unreachable(*args, **kwargs):
        raise error

    monkeypatch.setattr(alert_routes, "list_alert_json", unreachable)
    monkeypatch.setattr(alert_routes, "list_alert_json_async", unreachable)
    monkeypatch.setattr(errors, "_unavailable", {"logged_at": 0.0, "since": 0})
    with caplog.at_level(logging.INFO, logger="functrail.api"):
        answers = [api.client.get("/v1/alerts", headers=api.headers("viewer")) for _ in range(5)]
    for response in answers:
        body = assert_problem(response, 503)
        assert body["type"].endswith("/database-unavailable")
        assert response.headers["retry-after"] == "1"
        assert "5432" not in response.text
    lines = [r for r in caplog.records if r.name == "functrail.api"]
    assert len(lines) == 1  # not one (with a trace) per request
    assert lines[0].exc_info is None


def test_a_server_side_shutdown_is_503_and_a_query_error_or_timeout_is_still_500(api, monkeypatch):
    raised: list[Exception] = [psycopg.errors.AdminShutdown("terminating connection")]

    def failing(*args, **kwargs):
        raise raised[0]

    monkeypatch.setattr(alert_routes, "list_alert_json", failing)
    monkeypatch.setattr(alert_routes, "list_alert_json_async", failing)
    assert_problem(api.client.get("/v1/alerts", headers=api.headers("viewer")), 503)
    raised[0] = psycopg.errors.DiskFull("no space left")  # class 53: not a reachability error
    assert_problem(api.client.get("/v1/alerts", headers=api.headers("viewer")), 500)
    raised[0] = psycopg.errors.QueryCanceled("statement timeout")  # retried, it would again
    assert_problem(api.client.get("/v1/alerts", headers=api.headers("viewer")), 500)


def test_security_headers_on_every_answer(api):
    for response in (
        api.client.get("/healthz"),
        api.client.get("/v1/alerts"),
        api.client.get("/v1/alerts", headers=api.headers("viewer")),
    ):
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"


def test_cors_is_closed_by_default(api):
    response = api.client.options(
        "/v1/alerts",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "/v1/alerts?q=a%00b",
        "/v1/alerts?account=%00",
        "/v1/alerts/x%00y",
        "/v1/alerts/summary?q=%00",
    ],
)
def test_nul_in_path_or_query_is_422_not_a_database_error(api, path):
    assert_problem(api.client.get(path, headers=api.headers("viewer")), 422)


def test_nul_in_suppression_rule_is_422(api):
    body = {"rule_id": "a\x00b", "reason": "x"}
    assert_problem(
        api.client.post("/v1/suppressions", json=body, headers=api.headers("analyst")), 422
    )
