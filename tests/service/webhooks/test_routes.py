"""``/v1/webhooks`` over the real app: admin only, secret shown once, problem+json errors."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.webhooks import outbox
from service.webhooks.models import Delivery, Subscription
from tests.service.api.conftest import assert_problem

HOOK = {"url": "https://hooks.example.com/functrail", "format": "slack", "min_severity": "high"}


def create(api, **fields):
    response = api.client.post("/v1/webhooks", json=HOOK | fields, headers=api.headers("admin"))
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_secret_once_and_stores_it_encrypted(api):
    created = create(api, rules=["aws_lambda_public_add_permission"])
    assert created["secret"].startswith("whsec_")
    listed = api.client.get("/v1/webhooks", headers=api.headers("admin")).json()
    assert [w["id"] for w in listed["items"]] == [created["id"]]
    assert "secret" not in listed["items"][0]
    assert listed["next_cursor"] is None
    one = api.client.get(f"/v1/webhooks/{created['id']}", headers=api.headers("admin")).json()
    assert "secret" not in one
    with api.db.session() as s:
        stored = s.scalars(select(Subscription)).one()
    assert created["secret"] not in stored.secret


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_webhooks_need_admin(api, role):
    response = api.client.post("/v1/webhooks", json=HOOK, headers=api.headers(role))
    assert_problem(response, 403)
    assert_problem(api.client.get("/v1/webhooks", headers=api.headers(role)), 403)


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"url": "http://169.254.169.254/latest/meta-data/"}, "metadata"),
        ({"url": "http://[fd00:ec2::254]/"}, "metadata"),
        ({"url": "http://10.0.0.5/hook"}, "ALLOW_PRIVATE"),
        ({"url": "file:///etc/passwd"}, "scheme"),
        ({"format": "pagerduty"}, "routing_key"),
        ({"secret_ref": "vault://x"}, "secret_ref"),
    ],
)
def test_bad_subscriptions_are_422_problems_naming_the_field(api, fields, word):
    response = api.client.post("/v1/webhooks", json=HOOK | fields, headers=api.headers("admin"))
    body = assert_problem(response, 422)
    assert word in body["detail"]


def test_unknown_format_is_rejected(api):
    response = api.client.post(
        "/v1/webhooks", json=HOOK | {"format": "teams"}, headers=api.headers("admin")
    )
    assert_problem(response, 422)


def test_delete_removes_and_second_delete_is_404(api):
    created = create(api)
    url = f"/v1/webhooks/{created['id']}"
    assert api.client.delete(url, headers=api.headers("admin")).status_code == 204
    assert_problem(api.client.delete(url, headers=api.headers("admin")), 404)
    assert_problem(api.client.get(url, headers=api.headers("admin")), 404)


def test_test_endpoint_queues_a_test_delivery_listed_in_deliveries(api):
    created = create(api)
    admin = api.headers("admin")
    queued = api.client.post(f"/v1/webhooks/{created['id']}/test", headers=admin)
    assert queued.status_code == 202, queued.text
    assert queued.json()["event"] == "test"
    page = api.client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=admin).json()
    assert [d["id"] for d in page["items"]] == [queued.json()["id"]]
    detail = api.client.get(
        f"/v1/webhooks/{created['id']}/deliveries/{queued.json()['id']}", headers=admin
    ).json()
    assert detail["attempt_log"] == []


def test_replay_requeues_dead_deliveries_only(api):
    created = create(api)
    admin = api.headers("admin")
    queued = api.client.post(f"/v1/webhooks/{created['id']}/test", headers=admin).json()
    one = f"/v1/webhooks/{created['id']}/deliveries/{queued['id']}/replay"
    assert_problem(api.client.post(one, headers=admin), 409)
    with api.db.session() as s:
        s.scalars(select(Delivery)).one().status = "dead"
    dead = api.client.get(
        f"/v1/webhooks/{created['id']}/deliveries?status=dead", headers=admin
    ).json()
    assert len(dead["items"]) == 1
    assert api.client.post(one, headers=admin).json() == {"replayed": 1}
    again = api.client.post(f"/v1/webhooks/{created['id']}/replay", headers=admin).json()
    assert again == {"replayed": 0}
    with api.db.session() as s:
        assert s.scalars(select(Delivery)).one().status == outbox.PENDING


def test_bad_cursor_is_a_problem(api):
    response = api.client.get("/v1/webhooks?cursor=nope", headers=api.headers("admin"))
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
