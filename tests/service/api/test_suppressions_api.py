"""/v1/suppressions CRUD, and its effect on alerts stored afterwards."""

from __future__ import annotations

from tests.factories import alert
from tests.service.api.conftest import assert_problem


def test_suppression_crud_and_matching_alert_is_stored_suppressed(api):
    h = api.headers("analyst")
    created = api.client.post(
        "/v1/suppressions",
        json={
            "rule_id": "noisy_rule",
            "reason": "known deploy bot",
            "expires_at": "2099-01-01T00:00:00",
        },
        headers=h,
    )
    assert created.status_code == 201
    sid = created.json()["id"]
    assert created.json()["created_by"].startswith("analyst-")
    assert api.client.get("/v1/suppressions", headers=h).json()["items"][0]["id"] == sid
    patched = api.client.patch(f"/v1/suppressions/{sid}", json={"reason": "bot v2"}, headers=h)
    assert patched.json()["reason"] == "bot v2"

    noisy, other = alert(rule_id="noisy_rule"), alert(rule_id="other_rule")
    api.save(noisy, other)
    statuses = {
        a["rule_id"]: a["status"] for a in api.client.get("/v1/alerts", headers=h).json()["items"]
    }
    assert statuses == {"noisy_rule": "suppressed", "other_rule": "open"}

    assert api.client.delete(f"/v1/suppressions/{sid}", headers=h).status_code == 204
    assert_problem(api.client.get(f"/v1/suppressions/{sid}", headers=h), 404)


def test_suppression_needs_a_criterion_and_a_valid_cidr(api):
    h = api.headers("analyst")
    assert_problem(api.client.post("/v1/suppressions", json={"reason": "all"}, headers=h), 422)
    bad = {"source_cidr": "10.0.0.0/33", "reason": "x"}
    assert_problem(api.client.post("/v1/suppressions", json=bad, headers=h), 422)


def test_viewer_cannot_manage_suppressions(api):
    body = {"rule_id": "r", "reason": "x"}
    assert_problem(
        api.client.post("/v1/suppressions", json=body, headers=api.headers("viewer")), 403
    )
