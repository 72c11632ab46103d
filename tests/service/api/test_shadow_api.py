"""Shadow mode over HTTP: an admin sets a rule (or the anomaly model) to shadow; its alerts are
listed only with ``include_shadow=true``."""

from __future__ import annotations

from datetime import timedelta

from service.alerts.store import save_alerts
from service.db import utcnow
from service.rules.store import set_rule, shadow_plan
from tests.factories import alert
from tests.service.api.conftest import assert_problem

NOISY = "aws_lambda_public_add_permission"


def test_admin_sets_a_rule_to_shadow_and_the_list_shows_its_mode(api):
    response = api.client.patch(
        f"/v1/rules/{NOISY}", json={"mode": "shadow"}, headers=api.headers("admin")
    )
    assert response.status_code == 200, response.text
    assert (response.json()["mode"], response.json()["enabled"]) == ("shadow", True)
    rules = api.client.get("/v1/rules", headers=api.headers("viewer")).json()["items"]
    modes = {r["rule_id"]: r["mode"] for r in rules}
    assert modes[NOISY] == "shadow"
    assert modes["aws_root_account_usage"] == "live"
    with api.db.session() as session:
        assert shadow_plan(session).rules == {NOISY}


def test_rule_patch_needs_admin_and_a_known_mode(api):
    url = f"/v1/rules/{NOISY}"
    assert_problem(
        api.client.patch(url, json={"mode": "shadow"}, headers=api.headers("analyst")), 403
    )
    assert_problem(api.client.patch(url, json={"mode": "quiet"}, headers=api.headers("admin")), 422)
    assert_problem(api.client.patch(url, json={}, headers=api.headers("admin")), 422)
    assert_problem(
        api.client.patch("/v1/rules/nope", json={"mode": "shadow"}, headers=api.headers("admin")),
        404,
    )


def test_admin_sets_the_anomaly_model_to_shadow(api):
    assert api.client.get("/v1/models", headers=api.headers("viewer")).json()["mode"] == "live"
    response = api.client.patch("/v1/models", json={"mode": "shadow"}, headers=api.headers("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["mode"] == "shadow"
    with api.db.session() as session:
        assert shadow_plan(session).detectors == {"anomaly"}


def test_shadow_alerts_are_listed_and_counted_only_when_asked(api):
    live, shadow = alert(rule_id="aws_root_account_usage"), alert(rule_id=NOISY)
    with api.db.session() as session:
        save_alerts(session, [live, shadow], shadow=lambda a: a.rule_id == NOISY)
    viewer = api.headers("viewer")
    default = api.client.get("/v1/alerts", headers=viewer).json()["items"]
    assert [(a["id"], a["shadow"]) for a in default] == [(live.id, False)]
    both = api.client.get("/v1/alerts?include_shadow=true", headers=viewer).json()["items"]
    assert {a["id"]: a["shadow"] for a in both} == {live.id: False, shadow.id: True}
    assert api.client.get(f"/v1/alerts?rule_id={NOISY}", headers=viewer).json()["items"] == []
    summary = api.client.get("/v1/alerts/summary", headers=viewer).json()
    assert summary["total"] == 1
    summary = api.client.get("/v1/alerts/summary?include_shadow=true", headers=viewer).json()
    assert summary["total"] == 2
    assert api.client.get(f"/v1/alerts/{shadow.id}", headers=viewer).json()["shadow"] is True


def test_rule_stats_count_live_and_shadow_alerts_per_day_with_verdicts(api):
    now = utcnow()
    live = alert(rule_id=NOISY, first_seen=now - timedelta(days=1))
    shadow = alert(rule_id=NOISY, first_seen=now - timedelta(minutes=5))
    with api.db.session() as session:
        save_alerts(session, [live, shadow], shadow=lambda a: a.id == shadow.id)
        set_rule(session, NOISY, actor="admin", mode="shadow")
    resolved = api.client.patch(
        f"/v1/alerts/{live.id}",
        json={"status": "resolved", "disposition": "benign"},
        headers=api.headers("analyst"),
    )
    assert resolved.status_code == 200, resolved.text
    response = api.client.get(f"/v1/rules/{NOISY}/stats?days=7", headers=api.headers("viewer"))
    assert response.status_code == 200, response.text
    stats = response.json()
    assert (stats["rule_id"], stats["mode"], stats["days"]) == (NOISY, "shadow", 7)
    assert (stats["alerts"], stats["shadow"]) == (2, 1)
    assert stats["by_disposition"] == {"true_positive": 0, "false_positive": 0, "benign": 1}
    assert len(stats["by_day"]) == 7
    per_day = {d["day"]: (d["alerts"], d["shadow"]) for d in stats["by_day"]}
    assert per_day[shadow.last_seen.date().isoformat()][1] == 1
    assert per_day[live.last_seen.date().isoformat()][0] >= 1
    assert sum(n for n, _ in per_day.values()) == 2
    summary = api.client.get("/v1/alerts/summary", headers=api.headers("viewer")).json()
    assert summary["by_disposition"] == {"true_positive": 0, "false_positive": 0, "benign": 1}


def test_rule_stats_of_an_unknown_id_is_404_and_days_are_bounded(api):
    viewer = api.headers("viewer")
    assert_problem(api.client.get("/v1/rules/nope/stats", headers=viewer), 404)
    assert_problem(api.client.get(f"/v1/rules/{NOISY}/stats?days=0", headers=viewer), 422)
    assert_problem(api.client.get(f"/v1/rules/{NOISY}/stats?days=9999", headers=viewer), 422)
    quiet = api.client.get(f"/v1/rules/{NOISY}/stats", headers=viewer).json()
    assert (quiet["alerts"], quiet["mode"], len(quiet["by_day"])) == (0, "live", 30)
