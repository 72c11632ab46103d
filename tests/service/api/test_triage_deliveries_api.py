"""``PATCH /v1/alerts/{id}`` queues the status change for the webhooks (``alert.updated``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.factories import alert
from tests.service.api.conftest import Api, make_api


@pytest.fixture
def hooked(fresh_database) -> Iterator[tuple[Api, str]]:
    made = make_api(fresh_database, webhook_allow_private=True)
    with made.client:
        created = made.client.post(
            "/v1/webhooks",
            json={"url": "http://127.0.0.1:9/pd", "format": "pagerduty", "routing_key": "R" * 32},
            headers=made.headers("admin"),
        )
        assert created.status_code == 201, created.text
        yield made, created.json()["id"]


def test_resolving_with_a_verdict_queues_an_update_for_the_receiver(hooked):
    api, hook = hooked
    a = alert()
    api.save(a)
    analyst, admin = api.headers("analyst"), api.headers("admin")
    before = api.client.get(f"/v1/webhooks/{hook}/deliveries", headers=admin).json()["items"]
    resolved = api.client.patch(
        f"/v1/alerts/{a.id}",
        json={"status": "resolved", "disposition": "false_positive"},
        headers=analyst,
    )
    assert resolved.status_code == 200, resolved.text
    after = api.client.get(f"/v1/webhooks/{hook}/deliveries", headers=admin).json()["items"]
    new = [d for d in after if d["id"] not in {b["id"] for b in before}]
    assert [(d["event"], d["alert_id"]) for d in new] == [("alert.updated", a.id)]
    note = api.client.patch(f"/v1/alerts/{a.id}", json={"note": "CI role"}, headers=analyst)
    assert note.status_code == 200
    assert len(
        api.client.get(f"/v1/webhooks/{hook}/deliveries", headers=admin).json()["items"]
    ) == len(after)
