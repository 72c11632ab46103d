"""The watcher's rules: windows kept across micro-batches by event time, in bounded memory."""

from __future__ import annotations

import functools
from datetime import timedelta

from detectors.rules.engine import run_rules
from detectors.rules.loader import load_registry
from detectors.rules.registry import RuleRegistry
from detectors.rules.stream import StreamRules
from tests.factories import BASE_TIME, event, events, user_arn

BULK = "aws_secrets_bulk_read"


@functools.cache
def pack() -> RuleRegistry:
    registry, _errors = load_registry([])
    return registry


def secret_read(minute: float, n: int, who: str = "mallory") -> dict:
    return event(
        time=BASE_TIME + timedelta(minutes=minute),
        principal=user_arn(who),
        service="secretsmanager.amazonaws.com",
        action="GetSecretValue",
        raw_action="GetSecretValue",
        resource=f"prod/secret-{n:02d}",
        read_only=True,
    )


def of_rule(alerts: list, rule_id: str) -> list:
    return [a for a in alerts if a.rule_id == rule_id]


def test_a_bulk_secret_read_split_over_two_batches_fires_with_the_days_alert_id():
    rows = [secret_read(m * 0.5, m) for m in range(12)]
    stream = StreamRules()
    assert of_rule(stream.run(events(*rows[:6]), pack()), BULK) == []
    found = of_rule(stream.run(events(*rows[6:]), pack()), BULK)
    whole = of_rule(run_rules(events(*rows), pack()), BULK)
    assert len(found) == 1
    assert len(whole) == 1
    assert found[0].id == whole[0].id
    assert found[0].evidence.event_ids == whole[0].evidence.event_ids


def test_a_late_record_completes_a_window_of_an_earlier_batch():
    rows = [secret_read(m * 0.5, m, who="late") for m in range(10)]
    stream = StreamRules()
    # the batch holding the newest reads came first; the oldest read is 9 minutes late
    assert of_rule(stream.run(events(*rows[1:]), pack()), BULK) == []
    found = of_rule(stream.run(events(rows[0]), pack()), BULK)
    assert len(found) == 1
    assert found[0].first_seen == rows[0]["time"]


def test_an_alert_with_no_new_row_is_not_raised_again():
    rows = [secret_read(m * 0.5, m, who="again") for m in range(10)]
    stream = StreamRules()
    assert len(of_rule(stream.run(events(*rows), pack()), BULK)) == 1
    unrelated = event(time=BASE_TIME + timedelta(minutes=6))
    assert of_rule(stream.run(events(unrelated), pack()), BULK) == []


def test_rows_sent_again_raise_the_same_alert_again():
    """After a crash the batch may hold rows the carry already has: the alert comes again, with
    the same id (the store finds it unchanged), never not at all."""
    rows = [secret_read(m * 0.5, m, who="replay") for m in range(10)]
    stream = StreamRules()
    stream.warm(events(*rows), pack())
    found = of_rule(stream.run(events(*rows[5:]), pack()), BULK)
    assert [a.evidence.event_ids for a in found] == [[r["id"] for r in rows]]


def test_rows_older_than_the_window_and_the_lateness_are_let_go():
    stream = StreamRules(lateness=timedelta(minutes=15))
    stream.run(events(*[secret_read(m, m, who="old") for m in range(5)]), pack())
    assert stream.carried == 5
    stream.run(events(secret_read(60, 99, who="old")), pack())
    assert stream.carried == 1  # 10 minutes of window + 15 of lateness behind 11:00


def test_the_carry_never_holds_more_than_its_bound():
    stream = StreamRules(max_rows=4)
    stream.run(events(*[secret_read(m * 0.1, m, who="burst") for m in range(9)]), pack())
    assert stream.carried == 4
    assert stream.evicted == 5


def test_reads_split_further_apart_than_the_window_do_not_fire():
    stream = StreamRules()
    assert (
        of_rule(stream.run(events(*[secret_read(m, m, "slow") for m in range(6)]), pack()), BULK)
        == []
    )
    later = [secret_read(30 + m, 10 + m, "slow") for m in range(6)]
    assert of_rule(stream.run(events(*later), pack()), BULK) == []


def test_row_rules_alert_on_the_batch_alone():
    stream = StreamRules()
    stop = event(
        service="cloudtrail.amazonaws.com",
        action="StopLogging",
        raw_action="StopLogging",
        category="modification",
        read_only=False,
        resource="org-trail",
    )
    found = of_rule(stream.run(events(stop), pack()), "aws_cloudtrail_stop_logging")
    assert [a.evidence.event_ids for a in found] == [[stop["id"]]]


def test_warm_carries_rows_without_alerting():
    rows = [secret_read(m * 0.5, m, who="warm") for m in range(12)]
    stream = StreamRules()
    stream.warm(events(*rows[:6]), pack())
    assert stream.carried == 6
    found = of_rule(stream.run(events(*rows[6:]), pack()), BULK)
    assert len(found) == 1
    assert found[0].first_seen == rows[0]["time"]


def created_by_person(minute: float, who: str) -> dict:
    return event(
        time=BASE_TIME + timedelta(minutes=minute),
        principal=user_arn(who),
        action="CreateFunction",
        raw_action="CreateFunction20150331",
        category="modification",
        read_only=False,
        resource="exfil",
        raw={"requestParameters": {"functionName": "exfil", "role": "arn:aws:iam::1:role/admin"}},
    )


def invoked(minute: float, who: str) -> dict:
    return event(
        time=BASE_TIME + timedelta(minutes=minute),
        principal=user_arn(who),
        action="Invoke",
        raw_action="Invoke",
        category="invocation",
        resource="exfil",
    )


PASSROLE = "aws_lambda_passrole_escalation"


def test_an_ordered_correlation_fires_when_its_later_step_comes_in_a_later_batch():
    stream = StreamRules()
    assert of_rule(stream.run(events(created_by_person(0, "pat")), pack()), PASSROLE) == []
    found = of_rule(stream.run(events(invoked(20, "pat")), pack()), PASSROLE)
    assert len(found) == 1


def test_later_steps_of_a_group_with_no_first_step_are_not_carried():
    """Every invocation of every function would otherwise be carried for an hour."""
    stream = StreamRules()
    stream.run(events(*[invoked(m * 0.1, "busy") for m in range(50)]), pack())
    assert stream.carried == 0
