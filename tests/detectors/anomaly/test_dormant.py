"""Dormant identities: silent for days, back with sensitive actions or a new address or tool."""

from __future__ import annotations

import functools
from datetime import timedelta

import pandas as pd
import pytest

from detectors.anomaly import AnomalyConfig, detect_anomalies
from detectors.anomaly.dormant import dormant_candidates
from detectors.anomaly.first_seen import new_values
from models.bundle import TrainConfig
from models.train import train
from pipelines.features import PrincipalHistory, principal_features, window_start
from tests.factories import ACCOUNT, BASE_TIME, event, events, routine_activity

SLEEPER = f"arn:aws:iam::{ACCOUNT}:user/backup-sync"
START = BASE_TIME.replace(hour=0)


@functools.cache
def _routine() -> pd.DataFrame:
    """Sixteen days of routine work, made once: each ``routine_activity`` row moves the
    factories' session clock a second."""
    return routine_activity(16, principals=3, per_hour=4, start=START)


def _past(sleeper_days: tuple[int, ...] = (0,)) -> pd.DataFrame:
    """Sixteen days of routine work; the sleeper active (once, at 10:00 from its usual address)
    on each of ``sleeper_days``."""
    routine = _routine()
    own = [
        event(principal=SLEEPER, time=START + timedelta(days=d, hours=10), action="ListFunctions")
        for d in sleeper_days
    ]
    return pd.concat([routine, events(*own)], ignore_index=True)


def _candidates(
    past: pd.DataFrame, today: pd.DataFrame, config: AnomalyConfig | None = None
) -> pd.DataFrame:
    history = PrincipalHistory.from_events(past)
    features = principal_features(today, history)
    return dormant_candidates(
        features, new_values(today, history, "hour"), history, config or AnomalyConfig()
    )


def _return(day: int, **fields: object) -> pd.DataFrame:
    """The sleeper in the evening of ``day``: three secret reads (by default) from a new address."""
    at = START + timedelta(days=day, hours=20)
    base: dict[str, object] = {
        "principal": SLEEPER,
        "service": "secretsmanager.amazonaws.com",
        "action": "GetSecretValue",
        "source_ip": "198.51.100.77",
        **fields,
    }
    return events(*[event(time=at + timedelta(minutes=i), **base) for i in range(3)])


def test_active_once_silent_two_weeks_back_reading_secrets_is_an_alert() -> None:
    found = _candidates(_past(), _return(15))
    assert list(found["principal"]) == [SLEEPER]
    slept, did, where = found["explanation"].iloc[0]
    assert slept.feature == "silent for"
    assert slept.observed == "15.4 days"
    assert slept.baseline.startswith("last seen 2026-03-02 10:00 UTC; 1 active days")
    assert did.observed == "3 secret reads"
    assert "new address 198.51.100.77" in str(where.observed)
    assert found["score"].iloc[0] >= 0.9


def test_a_return_within_the_dormancy_setting_is_not_dormant() -> None:
    assert _candidates(_past((0, 12)), _return(15)).empty
    assert _candidates(_past(), _return(15), AnomalyConfig(dormant_days=20)).empty


def test_a_quiet_return_from_the_usual_address_and_tool_is_no_alert() -> None:
    quiet = _return(
        15, service="lambda.amazonaws.com", action="ListFunctions", source_ip="192.0.2.10"
    )
    assert _candidates(_past(), quiet).empty


def test_a_return_from_a_new_tool_alone_is_a_medium_alert() -> None:
    tool = _return(
        15, service="lambda.amazonaws.com", action="ListFunctions", source_ip="192.0.2.10",
        user_agent="python-requests/2.31",
    )  # fmt: skip
    found = _candidates(_past(), tool)
    assert len(found) == 1
    assert 0.7 <= found["score"].iloc[0] < 0.9
    assert found["explanation"].iloc[0][2].observed == "new tool python-requests"


def test_an_identity_never_seen_in_a_watched_account_reading_secrets_slept_the_whole_watch() -> (
    None
):
    found = _candidates(_past(sleeper_days=()), _return(16))
    assert len(found) == 1
    slept = found["explanation"].iloc[0][0]
    assert slept.observed == "at least 16.5 days"
    assert slept.baseline == "never seen in the 16.5 days this account has been watched"
    young = routine_activity(2, principals=3, per_hour=4, start=START + timedelta(days=14))
    assert _candidates(young, _return(16)).empty  # watched 2.5 days: too short to call dormant


def test_iam_and_logging_changes_count_as_sensitive_on_return() -> None:
    iam = _return(
        15,
        service="iam.amazonaws.com",
        action="CreateAccessKey",
        read_only=False,
        source_ip="192.0.2.10",
    )
    trail = _return(
        15,
        service="cloudtrail.amazonaws.com",
        action="StopLogging",
        read_only=False,
        source_ip="192.0.2.10",
    )
    assert _candidates(_past(), iam)["explanation"].iloc[0][1].observed == "3 IAM changes"
    assert _candidates(_past(), trail)["explanation"].iloc[0][1].observed == "3 logging changes"


@pytest.fixture(scope="module")
def model_and_day():
    past = _past()
    days = [g for _, g in past.groupby(window_start(past["time"], "day"))]
    return train(days[:15], TrainConfig(trees=50)), days[15]


def test_detect_anomalies_raises_a_dormant_identity_alert_with_evidence(model_and_day) -> None:
    model, day = model_and_day
    back = _return(15)
    run = detect_anomalies(pd.concat([day, back], ignore_index=True), model)
    hits = [a for a in run.alerts if a.rule_id == "dormant-identity"]
    assert len(hits) == 1
    alert = hits[0]
    assert alert.principal == SLEEPER
    assert alert.severity == "high"
    assert set(back["id"]) <= set(alert.evidence.event_ids)
    assert "back after 15.4 days: 3 secret reads" in alert.title
    assert alert.runbook
    assert "T1078.004" in alert.tags


def test_a_new_address_on_return_says_nothing_for_an_identity_that_always_brings_one() -> None:
    # a CI identity: every run from a fresh runner address
    runs = [
        event(principal=SLEEPER, time=START + timedelta(days=d, hours=9), source_ip=f"20.1.{d}.9")
        for d in (0, 2, 4)
    ]
    past = pd.concat([_routine(), events(*runs)], ignore_index=True)
    back = _return(15, service="lambda.amazonaws.com", action="ListFunctions", source_ip="20.9.9.9")
    assert _candidates(past, back).empty
    assert len(_candidates(_past(), back)) == 1  # the same return by a one-address identity


def test_a_new_tool_alone_needs_the_longer_silence() -> None:
    tool = _return(
        15, service="lambda.amazonaws.com", action="ListFunctions", source_ip="192.0.2.10",
        user_agent="python-requests/2.31",
    )  # fmt: skip
    assert _candidates(_past((5,)), tool).empty  # 10.4 days: back from leave, new laptop
    assert len(_candidates(_past((5,)), _return(15))) == 1  # the same silence reading secrets


def test_silence_is_measured_against_the_history_moved_on_by_each_scored_day() -> None:
    past = _past()
    scored_day_10 = events(
        event(principal=SLEEPER, time=START + timedelta(days=10, hours=11), action="ListFunctions")
    )
    history = PrincipalHistory.from_events(past).merge(PrincipalHistory.from_events(scored_day_10))
    today = _return(15)
    found = dormant_candidates(
        principal_features(today, history), new_values(today, history, "hour"), history,
        AnomalyConfig(),
    )  # fmt: skip
    assert found.empty  # seen on day 10: five days of silence, not fifteen
