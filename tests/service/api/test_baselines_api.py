"""A false-positive verdict widens the alert's baseline; /v1/baselines lists and undoes it."""

from __future__ import annotations

from detectors.alert import Deviation
from detectors.anomaly.config import AnomalyConfig
from service.baselines.store import anomaly_config
from tests.factories import ACCOUNT, alert
from tests.service.api.conftest import assert_problem

DEV = f"arn:aws:iam::{ACCOUNT}:user/dev7"


def _first_seen():
    return alert(
        detector="anomaly",
        rule_id="first-seen",
        principal=DEV,
        explanation=[Deviation(feature="new region", observed="ap-south-1", baseline="20 days")],
    )


def _resolve(api, alert_id: str, verdict: str):
    return api.client.patch(
        f"/v1/alerts/{alert_id}",
        json={"status": "resolved", "disposition": verdict},
        headers=api.headers("analyst"),
    )


def test_false_positive_first_seen_is_listed_as_an_adjustment_and_used_by_scoring(api):
    a = _first_seen()
    api.save(a)
    assert _resolve(api, a.id, "false_positive").status_code == 200
    listed = api.client.get("/v1/baselines", headers=api.headers("viewer")).json()["items"]
    assert [(i["alert_id"], i["entity"], i["values"]) for i in listed] == [
        (a.id, DEV, [["region", "ap-south-1"]])
    ]
    assert listed[0]["by"]
    assert listed[0]["note"].startswith("widened ")
    config = anomaly_config(api.settings)
    assert ("aws", ACCOUNT, DEV) in config.principal_notes


def test_a_true_first_seen_keeps_its_values_unknown_and_a_rule_alert_adjusts_nothing(api):
    a, rule = _first_seen(), alert()
    api.save(a, rule)
    _resolve(api, a.id, "true_positive")
    _resolve(api, rule.id, "false_positive")
    items = api.client.get("/v1/baselines", headers=api.headers("viewer")).json()["items"]
    assert [(i["alert_id"], i["unlearned"]) for i in items] == [(a.id, True)]
    assert items[0]["note"].startswith("kept unknown")
    _resolve(api, a.id, "false_positive")  # the verdict changed: the opposite adjustment
    items = api.client.get("/v1/baselines", headers=api.headers("viewer")).json()["items"]
    assert [(i["alert_id"], i["unlearned"]) for i in items] == [(a.id, False)]


def test_delete_undoes_an_adjustment_and_reopening_undoes_its_alerts(api):
    a, b = _first_seen(), _first_seen()
    api.save(a, b)
    _resolve(api, a.id, "false_positive")
    _resolve(api, b.id, "false_positive")
    h = api.headers("analyst")
    items = api.client.get("/v1/baselines", headers=h).json()["items"]
    assert len(items) == 2
    assert api.client.delete(f"/v1/baselines/{items[0]['id']}", headers=h).status_code == 204
    assert_problem(api.client.delete(f"/v1/baselines/{items[0]['id']}", headers=h), 404)
    api.client.patch(f"/v1/alerts/{b.id}", json={"status": "open"}, headers=h)
    assert api.client.get("/v1/baselines", headers=h).json()["items"] == []
    assert anomaly_config(api.settings).principal_notes == AnomalyConfig().principal_notes


def test_viewers_read_but_cannot_undo(api):
    a = _first_seen()
    api.save(a)
    _resolve(api, a.id, "false_positive")
    item = api.client.get("/v1/baselines", headers=api.headers("viewer")).json()["items"][0]
    response = api.client.delete(f"/v1/baselines/{item['id']}", headers=api.headers("viewer"))
    assert_problem(response, 403)
