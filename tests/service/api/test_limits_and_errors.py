"""Limits (413/414/422), security headers, and 500s that never show a trace or SQL."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from service.alerts import routes as alert_routes
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
