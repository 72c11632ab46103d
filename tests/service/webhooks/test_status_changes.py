"""Closing the loop: an analyst's status change or verdict is delivered as ``alert.updated``;
PagerDuty gets ``acknowledge`` / ``resolve`` with the alert's dedup key."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.alerts.store import save_alerts
from service.alerts.triage import triage
from service.webhooks import store
from service.webhooks.formats import FORMATS, DeliveredAlert, RenderContext
from service.webhooks.formats.pagerduty import pagerduty_dedup_key
from service.webhooks.models import Delivery
from service.webhooks.store import NewSubscription
from tests.factories import alert
from tests.service.webhooks.receivers import receiver
from tests.service.webhooks.test_dispatcher import drain, statuses, subscribe


def _queued(session, alert_id):
    stmt = select(Delivery).where(Delivery.alert_id == alert_id).order_by(Delivery.seq)
    return list(session.scalars(stmt))


@pytest.fixture
def subscribed(db, hook_settings):
    with db.session() as s:
        store.create_subscription(
            s, hook_settings, NewSubscription(url="http://127.0.0.1:9/hook", format="generic")
        )
    return db


def test_ack_resolve_reopen_resolve_are_four_updates_in_order(subscribed):
    a = alert()
    with subscribed.session() as s:
        save_alerts(s, [a])
        triage(s, a.id, actor="kim", status="acknowledged")
        triage(s, a.id, actor="kim", status="resolved", disposition="false_positive")
        triage(s, a.id, actor="kim", status="open")
        triage(s, a.id, actor="kim", status="resolved", disposition="true_positive")
        queued = _queued(s, a.id)
    assert {d.event for d in queued} == {"alert.updated"}
    assert len({d.change_key for d in queued}) == 4
    states = [(d.alert["status"], d.alert["disposition"]) for d in queued]
    assert states == [
        ("acknowledged", None),
        ("resolved", "false_positive"),
        ("open", None),
        ("resolved", "true_positive"),
    ]


def test_a_verdict_given_later_is_delivered_but_notes_and_assignees_are_not(subscribed):
    a = alert()
    with subscribed.session() as s:
        save_alerts(s, [a])
        triage(s, a.id, actor="kim", assignee="kim", note="looking")
        assert _queued(s, a.id) == []
        triage(s, a.id, actor="kim", status="resolved")
        triage(s, a.id, actor="kim", disposition="benign")
        triage(s, a.id, actor="kim", note="benign: the CI role")
        queued = _queued(s, a.id)
    assert [(d.alert["status"], d.alert["disposition"]) for d in queued] == [
        ("resolved", None),
        ("resolved", "benign"),
    ]


def test_a_shadow_alert_s_triage_is_never_delivered(subscribed):
    a = alert()
    with subscribed.session() as s:
        save_alerts(s, [a], shadow=lambda _: True)
        triage(s, a.id, actor="kim", status="resolved", disposition="false_positive")
        assert _queued(s, a.id) == []


def _status_ctx(fmt_event="alert.updated"):
    return RenderContext(
        event=fmt_event, delivery_id="d-1", routing_key="R" * 32, status_change=True
    )


def _delivered(status, disposition=None):
    return DeliveredAlert(**alert(status=status).model_dump(), disposition=disposition)


@pytest.mark.parametrize(
    ("status", "action"),
    [("acknowledged", "acknowledge"), ("resolved", "resolve"), ("suppressed", "resolve")],
)
def test_pagerduty_closes_the_incident_of_the_alert_s_dedup_key(status, action):
    a = _delivered(status, "false_positive" if status == "resolved" else None)
    body = FORMATS["pagerduty"].render(a, _status_ctx())
    assert body == {
        "routing_key": "R" * 32,
        "event_action": action,
        "dedup_key": pagerduty_dedup_key(a.dedup_key),
    }


def test_pagerduty_triggers_again_on_reopen():
    body = FORMATS["pagerduty"].render(_delivered("open"), _status_ctx())
    assert body["event_action"] == "trigger"
    assert body["payload"]["summary"]


def test_generic_and_ocsf_bodies_carry_the_new_status_and_verdict():
    a = _delivered("resolved", "false_positive")
    generic = FORMATS["generic"].render(a, _status_ctx())
    assert (generic["event"], generic["alert"]["status"]) == ("alert.updated", "resolved")
    assert generic["alert"]["disposition"] == "false_positive"
    ocsf = FORMATS["ocsf"].render(a, _status_ctx())
    assert (ocsf["activity_name"], ocsf["status"]) == ("Close", "Resolved")
    assert ocsf["status_detail"] == "Resolved: false positive"
    assert ocsf["unmapped"]["functrail_disposition"] == "false_positive"


def test_slack_status_change_is_a_short_plain_update_naming_the_alert():
    a = _delivered("resolved", "benign")
    body = FORMATS["slack"].render(a, _status_ctx())
    assert body["text"].startswith("Alert resolved as benign: ")
    assert a.id in str(body["blocks"])
    assert "header" not in {b["type"] for b in body["blocks"]}
    reopened = FORMATS["slack"].render(_delivered("open"), _status_ctx())
    assert reopened["text"].startswith("Alert reopened: ")


@pytest.mark.integration
def test_a_pagerduty_receiver_gets_acknowledge_then_resolve_over_http(db, hook_settings):
    a = alert(severity="critical")
    with receiver() as r:
        sub, r.secret = subscribe(
            db, hook_settings, r.url, format="pagerduty", routing_key="R" * 32
        )
        with db.session() as s:
            save_alerts(s, [a])
            triage(s, a.id, actor="kim", status="acknowledged")
            triage(s, a.id, actor="kim", status="resolved", disposition="true_positive")
        drain(db, hook_settings, until=lambda: statuses(db, sub.id) == ["delivered"] * 2)
    assert [(c.event, c.verified) for c in r.calls] == [("alert.updated", True)] * 2
    assert [c.body["event_action"] for c in r.calls] == ["acknowledge", "resolve"]
    assert {c.body["dedup_key"] for c in r.calls} == {a.dedup_key}
