"""Shadow mode in the store: shadow alerts are kept, left out of lists, summaries and metrics
counts by default, and never queued for delivery."""

from __future__ import annotations

from sqlalchemy import select

from service.alerts.counts import alert_counts
from service.alerts.models import AlertRow
from service.alerts.queries import AlertFilter, list_alerts, summarize
from service.alerts.store import save_alerts
from service.rules.store import (
    ShadowPlan,
    model_mode,
    rule_settings,
    set_model_mode,
    set_rule,
    shadow_plan,
)
from service.webhooks import outbox
from service.webhooks.models import Delivery
from service.webhooks.store import NewSubscription, create_subscription
from tests.factories import alert

NOISY = "aws_lambda_public_add_permission"


def test_a_shadow_rule_s_alerts_are_stored_marked_and_left_out_of_lists(session):
    live = alert(rule_id="aws_root_account_usage")
    shadow = alert(rule_id=NOISY)
    saved = save_alerts(session, [live, shadow], shadow=ShadowPlan(rules=frozenset({NOISY})))

    assert {s.alert.id: s.shadow for s in saved} == {live.id: False, shadow.id: True}
    assert session.get(AlertRow, shadow.id).shadow is True
    default = list_alerts(session, AlertFilter()).items
    assert [a.id for a in default] == [live.id]
    both = list_alerts(session, AlertFilter(include_shadow=True)).items
    assert {a.id: a.shadow for a in both} == {live.id: False, shadow.id: True}
    assert summarize(session, AlertFilter())["total"] == 1
    assert summarize(session, AlertFilter(include_shadow=True))["total"] == 2
    assert summarize(session, AlertFilter(rule_id=NOISY))["total"] == 0


def test_the_anomaly_model_in_shadow_marks_its_alerts_only(session):
    plan = ShadowPlan(detectors=frozenset({"anomaly"}))
    anomaly = alert(detector="anomaly", rule_id="isolation-forest")
    rule = alert(rule_id="isolation-forest")  # a rule of the same name stays live
    saved = save_alerts(session, [anomaly, rule], shadow=plan)
    assert {s.alert.id: s.shadow for s in saved} == {anomaly.id: True, rule.id: False}


def test_shadow_alerts_queue_no_delivery(session, settings):
    create_subscription(
        session,
        settings.model_copy(update={"webhook_allow_private": True}),
        NewSubscription(url="http://127.0.0.1:9/hook", min_severity="info"),
    )
    saved = save_alerts(
        session,
        [alert(rule_id=NOISY), alert(rule_id="aws_root_account_usage")],
        shadow=ShadowPlan(rules=frozenset({NOISY})),
    )
    assert outbox.enqueue_for_alerts(session, saved) == 1
    [delivery] = session.scalars(select(Delivery))
    assert delivery.alert_id == next(s.alert.id for s in saved if not s.shadow)


def test_shadow_alerts_are_not_in_the_metrics_counts(session):
    save_alerts(
        session,
        [alert(rule_id=NOISY), alert(rule_id="aws_root_account_usage")],
        shadow=ShadowPlan(rules=frozenset({NOISY})),
    )
    assert alert_counts(session) == {("high", "open"): 1}


def test_a_live_hit_does_not_fold_into_the_shadow_alert_of_the_same_key(session):
    first = alert(rule_id=NOISY, resource="fn-x")
    save_alerts(session, [first], shadow=ShadowPlan(rules=frozenset({NOISY})))
    later = alert(rule_id=NOISY, resource="fn-x")  # same dedup key, a millisecond on
    [saved] = save_alerts(session, [later])
    assert saved.change == "new"
    assert saved.shadow is False
    assert [a.id for a in list_alerts(session, AlertFilter()).items] == [later.id]


def test_rule_and_model_modes_make_the_plan(session):
    set_rule(session, NOISY, actor="admin", mode="shadow")
    set_rule(session, "aws_root_account_usage", actor="admin", enabled=False)
    set_model_mode(session, "shadow", actor="admin")
    plan = shadow_plan(session)
    assert plan == ShadowPlan(rules=frozenset({NOISY}), detectors=frozenset({"anomaly"}))
    states = rule_settings(session)
    assert (states[NOISY].enabled, states[NOISY].mode) == (True, "shadow")
    assert (states["aws_root_account_usage"].enabled, states["aws_root_account_usage"].mode) == (
        False,
        "live",
    )
    assert model_mode(session) == "shadow"
    set_rule(session, NOISY, actor="admin", mode="live")
    set_model_mode(session, "live", actor="admin")
    assert shadow_plan(session) == ShadowPlan()
