"""Correlations: event_count, value_count and temporal windows per group."""

from __future__ import annotations

from datetime import timedelta

from detectors.rules.engine import run_rules
from tests.detectors.rules.rulekit import load_docs, rule_yaml
from tests.factories import BASE_TIME, event, events

EVE = "arn:aws:iam::210987654321:user/eve"


def read(i: int, *, principal: str = EVE, name: str = "s0"):
    return event(
        time=BASE_TIME + timedelta(seconds=30 * i),
        service="secretsmanager.amazonaws.com",
        action="GetSecretValue",
        principal=principal,
        resource=name,
        raw={"requestParameters": {"secretId": name}},
    )


def correlation(tmp_path, kind: str, condition: dict, base_name: str = "base_read", **extra):
    base = rule_yaml({"s": {"action": "GetSecretValue"}, "condition": "s"}, name=base_name)
    corr = {
        "title": "bulk",
        "id": "5b0d7c7e-0000-4000-8000-00000000c0de",
        "name": f"corr_{kind}",
        "tags": ["attack.t1555.006"],
        "level": "high",
        "correlation": {
            "type": kind,
            "rules": [base_name],
            "group-by": ["principal"],
            "timespan": "5m",
            "condition": condition,
        },
        "functrail": {"dedup": ["principal"], "title": "{principal} read a lot", "runbook": "r"},
        **extra,
    }
    return load_docs(tmp_path, base, corr)


def test_value_count_fires_once_per_window_with_all_event_ids(tmp_path):
    rules = correlation(tmp_path, "value_count", {"gte": 4, "field": "resource"})
    rows = [read(i, name=f"s{i}") for i in range(6)]  # 6 distinct secrets in 2.5 minutes
    alerts = run_rules(events(*rows), rules)
    assert [a.rule_id for a in alerts] == ["corr_value_count"]  # base rule raises nothing
    (alert,) = alerts
    assert alert.evidence.event_ids == [r["id"] for r in rows]
    assert alert.count == 6
    assert alert.title == "arn:aws:iam::210987654321:user/eve read a lot"


def test_value_count_ignores_repeated_values(tmp_path):
    rules = correlation(tmp_path, "value_count", {"gte": 4, "field": "resource"})
    rows = [read(i, name=f"s{i % 2}") for i in range(10)]
    assert run_rules(events(*rows), rules) == []


def test_event_count_respects_timespan_and_groups(tmp_path):
    rules = correlation(tmp_path, "event_count", {"gte": 3})
    spread = [read(i * 20) for i in range(4)]  # 10 minutes apart: never 3 in 5 minutes
    other = [read(100 + i, principal="arn:aws:iam::210987654321:user/bob") for i in range(3)]
    alerts = run_rules(events(*spread, *other), rules)
    assert [a.principal for a in alerts] == ["arn:aws:iam::210987654321:user/bob"]


def test_separate_bursts_give_separate_windows(tmp_path):
    rules = correlation(tmp_path, "event_count", {"gte": 3})
    rows = [read(i) for i in range(3)] + [read(200 + i) for i in range(3)]
    alerts = run_rules(events(*rows), rules)
    (alert,) = alerts  # same dedup key: the two windows fold, counts add up
    assert alert.count == 6
    assert alert.evidence.event_ids == [r["id"] for r in rows]


def _made_and_opened(tmp_path, kind: str):
    """CreateFunction and AddPermission of one resource within 10 minutes, as ``kind``."""
    base_a = rule_yaml({"s": {"action": "CreateFunction"}, "condition": "s"}, name="made")
    base_b = rule_yaml({"s": {"action": "AddPermission"}, "condition": "s"}, name="opened")
    corr = {
        "title": "made and opened",
        "id": "5b0d7c7e-0000-4000-8000-00000000beef",
        "name": "made_and_opened",
        "tags": ["attack.t1190"],
        "correlation": {
            "type": kind,
            "rules": ["made", "opened"],
            "group-by": ["resource"],
            "timespan": "10m",
        },
        "functrail": {"dedup": ["resource"], "runbook": "r"},
    }
    return load_docs(tmp_path, base_a, base_b, corr)


def test_temporal_needs_every_rule_in_the_window(tmp_path):
    rules = _made_and_opened(tmp_path, "temporal")
    t = BASE_TIME
    rows = [
        event(time=t, action="CreateFunction", resource="f1"),
        event(time=t + timedelta(minutes=2), action="AddPermission", resource="f1"),
        event(time=t, action="CreateFunction", resource="f2"),
        event(time=t + timedelta(minutes=30), action="AddPermission", resource="f2"),
    ]
    alerts = run_rules(events(*rows), rules)
    assert [(a.rule_id, a.resource) for a in alerts] == [("made_and_opened", "f1")]
    assert alerts[0].evidence.event_ids == [rows[0]["id"], rows[1]["id"]]


def test_temporal_ordered_needs_the_rules_in_their_listed_order(tmp_path):
    rules = _made_and_opened(tmp_path, "temporal_ordered")
    t = BASE_TIME
    rows = [
        event(time=t, action="CreateFunction", resource="in-order"),
        event(time=t + timedelta(minutes=2), action="AddPermission", resource="in-order"),
        event(time=t, action="AddPermission", resource="reversed"),
        event(time=t + timedelta(minutes=2), action="CreateFunction", resource="reversed"),
        event(time=t, action="AddPermission", resource="again"),
        event(time=t + timedelta(minutes=1), action="CreateFunction", resource="again"),
        event(time=t + timedelta(minutes=3), action="AddPermission", resource="again"),
    ]
    alerts = run_rules(events(*rows), rules)
    assert sorted(str(a.resource) for a in alerts) == ["again", "in-order"]
