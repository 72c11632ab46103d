"""Health probes, metrics, OpenAPI, rules on/off, models and job runs."""

from __future__ import annotations

from service.jobs.store import finish_job_run, record_job_run
from service.rules.store import disabled_rules
from tests.factories import alert
from tests.service.api.conftest import assert_problem


def test_health_and_readiness_need_no_key(api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz").json()
    assert ready["checks"] == {"database": True, "lake": True}


def test_metrics_count_requests_and_alerts(api):
    api.save(alert(severity="critical"))
    api.client.get("/v1/alerts", headers=api.headers("viewer"))
    text = api.client.get("/metrics").text
    assert 'functrail_http_requests_total{method="GET",route="/v1/alerts",status="200"} 1.0' in text
    assert 'functrail_alerts{severity="critical",status="open"} 1.0' in text


def test_openapi_documents_security_and_examples(api):
    spec = api.client.get("/openapi.json").json()
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert "/v1/alerts" in spec["paths"]
    assert "/v1/events" in spec["paths"]
    assert spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"][
        "example"
    ]
    assert spec["components"]["schemas"]["AlertPatch"]["examples"]


def test_admin_disables_a_rule_and_the_state_is_kept_for_the_engine(api):
    rules = api.client.get("/v1/rules", headers=api.headers("viewer")).json()["items"]
    assert rules
    assert all(r["enabled"] for r in rules)
    rule_id = rules[0]["rule_id"]
    body = {"enabled": False}
    assert_problem(
        api.client.patch(f"/v1/rules/{rule_id}", json=body, headers=api.headers("analyst")), 403
    )
    response = api.client.patch(f"/v1/rules/{rule_id}", json=body, headers=api.headers("admin"))
    assert response.json()["enabled"] is False
    with api.db.session() as session:
        assert disabled_rules(session) == {rule_id}
    assert_problem(
        api.client.patch("/v1/rules/no_such_rule", json=body, headers=api.headers("admin")), 404
    )


def test_models_list_is_empty_before_training(api):
    assert api.client.get("/v1/models", headers=api.headers("viewer")).json() == {
        "active": None,
        "mode": "live",
        "items": [],
        "next_cursor": None,
    }


def test_job_runs_are_listed_newest_first(api):
    with api.db.session() as session:
        first = record_job_run(session, "score", {"date": "2026-03-01"})
        finish_job_run(session, first, counts={"alerts": 3})
        second = record_job_run(session, "score", {"date": "2026-03-02"})
        finish_job_run(session, second, status="failed", error="lake unreachable")
    items = api.client.get("/v1/jobs", headers=api.headers("viewer")).json()["items"]
    assert [(j["id"], j["status"]) for j in items] == [(second, "failed"), (first, "succeeded")]
    assert items[1]["counts"] == {"alerts": 3}
    assert items[0]["error"] == "lake unreachable"


def test_a_metrics_scrape_reads_the_counters_not_the_alerts(api):
    from sqlalchemy import event

    api.save(alert(severity="low"), alert(severity="low"))
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(api.db.engine, "before_cursor_execute", seen)
    try:
        text = api.client.get("/metrics").text
    finally:
        event.remove(api.db.engine, "before_cursor_execute", seen)
    assert 'functrail_alerts{severity="low",status="open"} 2.0' in text
    assert statements
    assert not [s for s in statements if " alerts" in s.replace("alert_counts", "")]


def test_metrics_answer_only_the_configured_token(fresh_database):
    from pydantic import SecretStr

    from tests.service.api.conftest import make_api

    api = make_api(fresh_database)
    api.state.settings.metrics_token = SecretStr("scrape-me")
    with api.client:
        assert_problem(api.client.get("/metrics"), 401)
        wrong = {"Authorization": "Bearer nope"}
        assert_problem(api.client.get("/metrics", headers=wrong), 401)
        right = {"Authorization": "Bearer scrape-me"}
        assert "functrail_http_requests_total" in api.client.get("/metrics", headers=right).text
