"""Rule stats: alerts per day, live and shadow alike, and the verdicts given; the summary counts
verdicts too."""

from __future__ import annotations

from datetime import date, timedelta

from service.alerts.queries import AlertFilter, summarize
from service.alerts.store import save_alerts
from service.alerts.triage import triage
from service.rules.stats import rule_volumes
from tests.factories import BASE_TIME, alert

NOISY = "aws_lambda_public_add_permission"
NOW = BASE_TIME + timedelta(days=2, hours=1)


def _seed(session):
    day0 = [alert(rule_id=NOISY, first_seen=BASE_TIME + timedelta(minutes=i)) for i in range(3)]
    day2 = [
        alert(rule_id=NOISY, first_seen=BASE_TIME + timedelta(days=2, minutes=i)) for i in range(2)
    ]
    other = alert(rule_id="aws_root_account_usage")
    old = alert(rule_id=NOISY, first_seen=BASE_TIME - timedelta(days=40))
    save_alerts(session, [*day0, *day2, other, old], shadow=lambda a: a in day2)
    triage(session, day0[0].id, actor="kim", status="resolved", disposition="false_positive")
    triage(session, day0[1].id, actor="kim", status="resolved", disposition="false_positive")
    triage(session, day2[0].id, actor="kim", status="resolved", disposition="true_positive")
    return day0, day2


def test_a_rule_s_alerts_are_counted_per_day_with_shadow_and_verdicts(session):
    _seed(session)
    volume = rule_volumes(session, 30, rule_ids=[NOISY], now=NOW)[NOISY]
    assert (volume.alerts, volume.shadow) == (5, 2)  # the 40-day-old alert is out of the window
    assert volume.by_disposition == {"true_positive": 1, "false_positive": 2, "benign": 0}
    assert len(volume.by_day) == 30
    assert volume.by_day[-1].day == NOW.date()
    busy = {d.day: (d.alerts, d.shadow, d.by_disposition) for d in volume.by_day if d.alerts}
    assert busy == {
        BASE_TIME.date(): (3, 0, {"true_positive": 0, "false_positive": 2, "benign": 0}),
        date(2026, 3, 4): (2, 2, {"true_positive": 1, "false_positive": 0, "benign": 0}),
    }


def test_without_rule_ids_every_rule_with_alerts_in_the_window_is_counted(session):
    _seed(session)
    volumes = rule_volumes(session, 30, now=NOW)
    assert {r: v.alerts for r, v in volumes.items()} == {NOISY: 5, "aws_root_account_usage": 1}
    assert rule_volumes(session, 1, now=NOW)[NOISY].alerts == 2


def test_a_named_rule_without_alerts_has_zero_days(session):
    volume = rule_volumes(session, 7, rule_ids=["quiet"], now=NOW)["quiet"]
    assert volume.alerts == 0
    assert [d.alerts for d in volume.by_day] == [0] * 7


def test_the_summary_counts_the_verdicts_given(session):
    _seed(session)
    assert summarize(session, AlertFilter())["by_disposition"] == {
        "true_positive": 0,  # the true positive is a shadow alert
        "false_positive": 2,
        "benign": 0,
    }
    everything = summarize(session, AlertFilter(include_shadow=True))
    assert everything["by_disposition"]["true_positive"] == 1
