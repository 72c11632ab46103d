"""Time slices: a principal too busy for one partition is cut by hour, and neither the rules nor
an active anomaly model see the cuts (the day's alerts equal those of one unsplit run)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from detectors.anomaly import AnomalyConfig
from models.bundle import TrainConfig
from models.registry import ModelRegistry
from models.train import train
from pipelines.features import window_start
from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.scoring.anomalies import settle_anomalies
from service.scoring.day import detect_day
from service.scoring.detect import detect_partition
from service.scoring.job import day_range
from service.scoring.partitions import plan_partitions
from tests.factories import (
    ACCOUNT,
    BASE_TIME,
    concurrency_zero,
    event,
    events,
    failed_console_login,
    routine_activity,
    user_arn,
)
from tests.service.scoring.conftest import DAY

WHOLE = 10**9
HOUR = timedelta(hours=1)
BUSY = f"arn:aws:iam::{ACCOUNT}:role/busy"


def _alerts(settings: Settings, day: datetime, part_events: int) -> tuple[int, list[Any]]:
    """(sliced partitions, every alert as JSON) of the day in the settings' lake."""
    found = detect_day(settings, *day_range(day.date()), part_events=part_events)
    sliced = sum(bool(p.slices) for p in found.parts)
    return sliced, [a.model_dump(mode="json") for a in found.alerts]


def _busy_hours(hours: range, per_hour: int) -> list[dict[str, Any]]:
    start = BASE_TIME.replace(hour=0)
    return [
        event(principal=BUSY, time=start + timedelta(hours=h, seconds=30 * i))
        for h in hours
        for i in range(per_hour)
    ]


def test_a_principal_over_the_partition_size_is_cut_into_hour_slices(settings: Settings) -> None:
    lake = EventLake(settings.lake_root)
    start = BASE_TIME.replace(hour=0)
    heavy = [
        event(principal=BUSY, time=start + timedelta(hours=5, seconds=7 * i)) for i in range(25)
    ]
    lake.append(events(*_busy_hours(range(8), 10), *heavy))
    (part,) = plan_partitions(lake, settings.lake_root, *day_range(DAY), part_events=20)

    assert part.split
    assert part.principals is None  # one principal: the account is one range
    cuts = [start + timedelta(hours=h) for h in (2, 4, 5, 6)]
    assert list(part.slices) == cuts  # hour-aligned, <= 20 each; hour 5 (35) stays whole
    lengths = [p.end - p.start for p in part.time_slices()]
    assert lengths[:3] == [timedelta(hours=h) for h in (2, 2, 1)]
    assert part.time_slices()[0].start == day_range(DAY)[0]
    assert part.time_slices()[-1].end == day_range(DAY)[1]
    (rules_only,) = plan_partitions(
        lake, settings.lake_root, *day_range(DAY), part_events=20, slice_window="minute"
    )
    inside = [
        c for c in rules_only.slices if start + timedelta(hours=5) < c < start + timedelta(hours=6)
    ]
    assert inside  # without a model, an hour over the size is cut by minute
    (whole,) = plan_partitions(
        lake, settings.lake_root, *day_range(DAY), part_events=20, slice_window="day"
    )
    assert whole.slices == ()  # a day-long window cannot be cut
    assert not whole.split


def test_rules_over_time_slices_give_the_alerts_of_one_batch(settings: Settings) -> None:
    # the busy role's work all day, one slice an hour; a bulk secret read straddling 11:00 (a
    # correlation by principal whose window crosses a cut), a function throttled in two hours
    # (one row-rule key in two slices), and failed console logins of several users from one
    # address around 13:00
    rows = _busy_hours(range(8, 16), 20)
    at = BASE_TIME.replace(hour=10, minute=56)
    rows += [
        event(
            principal=BUSY,
            service="secretsmanager.amazonaws.com",
            action="GetSecretValue",
            raw_action="GetSecretValue",
            resource=f"prod/secret-{i}",
            time=at + timedelta(seconds=40 * i),
        )
        for i in range(12)
    ]
    rows += [
        concurrency_zero(principal=BUSY, time=BASE_TIME.replace(hour=h, minute=20)) for h in (9, 14)
    ]
    rows += [
        failed_console_login(
            f"u{i}",
            principal=BUSY if i % 2 else user_arn(f"u{i}"),
            time=BASE_TIME.replace(hour=12, minute=58) + timedelta(seconds=20 * i),
        )
        for i in range(10)
    ]
    EventLake(settings.lake_root).append(events(*rows))

    cuts = plan_partitions(
        EventLake(settings.lake_root), settings.lake_root, *day_range(DAY), part_events=30
    )[0].slices
    sliced, split = _alerts(settings, BASE_TIME, 30)
    _, whole = _alerts(settings, BASE_TIME, WHOLE)

    assert BASE_TIME.replace(hour=11) in cuts
    assert sliced >= 1
    assert split == whole
    rules = {a["rule_id"]: a for a in whole}
    assert rules["aws_secrets_bulk_read"]["count"] >= 10
    assert rules["aws_lambda_concurrency_zero"]["count"] == 2
    assert rules["aws_console_login_bruteforce"]["count"] == 10


@pytest.fixture
def trained(settings: Settings) -> pd.DataFrame:
    """A model trained on 10 routine days of 4 users; returns the 11th day to score."""
    activity = routine_activity(11, principals=4, per_hour=8)
    days = [g for _, g in activity.groupby(window_start(activity["time"], "day"))]
    ModelRegistry(settings.models_dir).register(
        train(days[:10], TrainConfig(trees=30, min_history_days=2))
    )
    return days[10].reset_index(drop=True)


def _anomalous(day: pd.DataFrame) -> pd.DataFrame:
    """The routine day plus what the anomaly detectors exist for, spread over several hours."""
    dev1, dev2 = user_arn("dev1"), user_arn("dev2")
    at = day["time"].min().floor("D")
    rows: list[dict[str, Any]] = []
    # dev1 from a new address and agent at 10:00, the same again at 13:00 (not new any more),
    # and a new region at 15:00
    for hour, extra in ((10, {}), (13, {}), (15, {"region": "ap-southeast-2"})):
        rows += [
            event(
                principal=dev1,
                source_ip="203.0.113.66",
                user_agent="python-requests/2.31",
                time=at + timedelta(hours=hour, seconds=7 * i),
                **extra,
            )
            for i in range(12)
        ]
    # a principal never seen before, at 09:00 and 14:00 (a newcomer in its first window only)
    rows += [
        event(
            principal=user_arn("newcomer"),
            service="secretsmanager.amazonaws.com",
            action="GetSecretValue",
            time=at + timedelta(hours=hour, seconds=11 * i),
        )
        for hour in (9, 14)
        for i in range(5)
    ]
    # an invocation flood of one function at 12:00 by two users: a volume series whose count
    # only the sum over both principals' partitions reaches
    rows += [
        event(
            principal=who,
            action="Invoke",
            category="invocation",
            resource="fn-1",
            read_only=False,
            time=at + timedelta(hours=12, seconds=i),
        )
        for who in (dev1, dev2)
        for i in range(400)
    ]
    return pd.concat([day, events(*rows)], ignore_index=True)


def test_an_active_model_over_ranges_and_time_slices_gives_the_alerts_of_one_batch(
    settings: Settings, trained: pd.DataFrame
) -> None:
    scored = _anomalous(trained)
    EventLake(settings.lake_root).append(scored)
    day = scored["time"].min().to_pydatetime()

    sliced, split = _alerts(settings, day, 60)
    _, whole = _alerts(settings, day, WHOLE)

    assert sliced >= 3
    assert split == whole
    found = {(a["rule_id"], a["principal"], a["first_seen"][11:13]) for a in whole}
    dev1 = user_arn("dev1")
    assert ("first-seen", dev1, "10") in found
    assert ("first-seen", dev1, "13") not in found  # seen at 10:00, in an earlier slice
    assert ("first-seen", user_arn("newcomer"), "09") in found
    assert ("first-seen", user_arn("newcomer"), "14") not in found
    # the function's flood is denial-of-wallet's (the model has wallet baselines)
    (flood,) = [a for a in whole if a["rule_id"] == "denial-of-wallet" and a["resource"] == "fn-1"]
    assert len(flood["evidence"]["event_ids"]) == AnomalyConfig().evidence_ids
    assert flood["evidence"]["sample"][0]["principal"] in {dev1, user_arn("dev2")}


def test_the_alert_guard_holds_per_run_whatever_the_partitions(
    settings: Settings, trained: pd.DataFrame
) -> None:
    scored = _anomalous(trained)
    EventLake(settings.lake_root).append(scored)
    day = scored["time"].min().date()
    model = ModelRegistry(settings.models_dir).load()
    config = AnomalyConfig(max_alerts=2)

    settled = []
    for part_events in (60, WHOLE):
        found = detect_day(settings, *day_range(day), part_events=part_events)
        run = settle_anomalies(found.results, model, settings.lake_root, config)
        settled.append((run.held_back, sorted(a.id for a in run.alerts)))

    assert settled[0] == settled[1]
    assert len(settled[0][1]) == 2
    assert settled[0][0] > 0


def test_an_ordered_correlation_keeps_its_earlier_steps_evidence_across_cuts(
    settings: Settings,
) -> None:
    # a developer invokes functions all day (the later step, carried only as evidence until
    # the first step appears), creates one with a passed role at 10:50 and invokes at 11:10:
    # the alert's window reaches back across the 11:00 cut to the 10:10-10:50 invocations
    dev = user_arn("dev")
    start = BASE_TIME.replace(hour=0)
    invoke = {"action": "Invoke", "raw_action": "Invoke", "category": "invocation"}
    rows = [
        event(principal=dev, time=start + timedelta(hours=h, seconds=170 * i), **invoke)
        for h in range(8, 16)
        for i in range(20)
    ]
    rows.append(
        event(
            principal=dev,
            action="CreateFunction",
            raw_action="CreateFunction20150331",
            category="modification",
            read_only=False,
            time=start + timedelta(hours=10, minutes=50),
            raw={"requestParameters": {"functionName": "x", "role": "arn:aws:iam::1:role/admin"}},
        )
    )
    EventLake(settings.lake_root).append(events(*rows))

    sliced, split = _alerts(settings, BASE_TIME, 30)
    _, whole = _alerts(settings, BASE_TIME, WHOLE)

    assert sliced == 1
    assert split == whole
    (escalation,) = [a for a in whole if a["rule_id"] == "aws_lambda_passrole_escalation"]
    assert escalation["first_seen"] < "2026-03-02T10:50"


def test_a_principal_hour_cut_by_minute_gives_the_alerts_of_one_batch(
    settings: Settings, trained: pd.DataFrame
) -> None:
    # dev1's 10:00 hour holds 240 more events (partitions of 60): it is cut by minute, and its
    # features, new values (an address used in the first piece and again in later ones, a
    # region and an agent first used in later pieces) and evidence are combined from the pieces
    dev1 = user_arn("dev1")
    at = trained["time"].min().floor("D")
    rows = [
        event(
            principal=dev1,
            service="secretsmanager.amazonaws.com",
            action="GetSecretValue",
            source_ip="203.0.113.66" if i % 3 == 0 else "198.51.100.7",
            user_agent="python-requests/2.31" if i > 160 else "aws-cli/2.15",
            region="ap-southeast-2" if i > 200 else "us-east-1",
            outcome="failure" if i % 5 == 0 else "success",
            time=at + timedelta(hours=10, seconds=15 * i),
        )
        for i in range(240)
    ]
    scored = pd.concat([trained, events(*rows)], ignore_index=True)
    EventLake(settings.lake_root).append(scored)
    day = scored["time"].min().to_pydatetime()

    found = detect_day(settings, *day_range(day.date()), part_events=60)
    ten = at + timedelta(hours=10)
    inside = [c for p in found.parts for c in p.slices if ten < pd.Timestamp(c) < ten + HOUR]
    assert len(inside) >= 3  # dev1's 10:00 hour is read in four or more pieces
    split = [a.model_dump(mode="json") for a in found.alerts]
    _, whole = _alerts(settings, day, WHOLE)

    assert split == whole
    (first_seen,) = [
        a
        for a in whole
        if a["principal"] == dev1
        and a["first_seen"][11:13] == "10"
        and a["rule_id"] == "first-seen"
    ]
    shown = [(d["feature"], d["observed"]) for d in first_seen["explanation"]]
    assert len(set(shown)) == len(shown)  # a value used in several pieces is new once
    assert {"ap-southeast-2", "python-requests"} <= {value for _, value in shown}
    assert len(first_seen["evidence"]["event_ids"]) == AnomalyConfig().evidence_ids


def test_a_newcomer_first_seen_in_a_later_piece_of_a_cut_hour_is_new_there_only(
    settings: Settings, trained: pd.DataFrame
) -> None:
    # slices cut by hand at 10:30 (the planner gives a sliced range one busy principal): the
    # newcomer's first window (10:00) is cut, its 11:00 window is whole in the same slice
    at = trained["time"].min().floor("D")
    rows = [
        event(
            principal=user_arn("newcomer"),
            service="secretsmanager.amazonaws.com",
            action="GetSecretValue",
            time=at + timedelta(hours=10, minutes=minute),
        )
        for minute in (40, 45, 50, 70, 75)
    ]
    EventLake(settings.lake_root).append(pd.concat([trained, events(*rows)], ignore_index=True))
    (whole,) = plan_partitions(
        EventLake(settings.lake_root), settings.lake_root, *day_range(at.date()), part_events=WHOLE
    )
    sliced = replace(whole, slices=(at.to_pydatetime() + timedelta(hours=10, minutes=30),))

    found = [detect_partition(p, settings) for p in (sliced, whole)]
    alerts = [sorted((a.model_dump(mode="json") for a in r.anomalies), key=str) for r in found]

    assert alerts[0] == alerts[1]
    newcomer = [a for a in alerts[1] if a["principal"] == user_arn("newcomer")]
    # first-seen (new principal) and dormant-identity (unseen in a watched account, reading
    # secrets) both at its first window only
    assert sorted((a["rule_id"], a["first_seen"][11:16]) for a in newcomer) == [
        ("dormant-identity", "10:40"),
        ("first-seen", "10:40"),
    ]
