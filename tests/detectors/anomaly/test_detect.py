from datetime import timedelta

import pandas as pd
import pytest

from detectors.anomaly import AnomalyConfig, NoTrainedModel, detect_anomalies
from models.bundle import TrainConfig
from models.registry import ModelRegistry
from models.train import train
from pipelines.features import window_start
from tests.factories import ACCOUNT, event, events, routine_activity

DEV1 = f"arn:aws:iam::{ACCOUNT}:user/dev1"


@pytest.fixture(scope="module")
def setup():
    activity = routine_activity(16, principals=5, per_hour=8)
    days = [g for _, g in activity.groupby(window_start(activity["time"], "day"))]
    model = train(days[:15], TrainConfig(trees=50))
    return model, days[15]


def _at(day, hours):
    return day["time"].min().floor("D") + timedelta(hours=hours)


def test_stolen_keys_from_a_new_network_fold_into_one_first_seen_alert(setup):
    model, day = setup
    t = _at(day, 10)
    stolen = events(
        *[
            event(
                principal=DEV1,
                time=t + timedelta(seconds=i),
                source_ip="203.0.113.66",
                user_agent="python-requests/2.31",
                region="us-east-1",
                service="secretsmanager.amazonaws.com",
                action="GetSecretValue",
            )
            for i in range(12)
        ]
    )
    run = detect_anomalies(pd.concat([day, stolen], ignore_index=True), model)
    hits = [a for a in run.alerts if a.rule_id == "first-seen" and a.principal == DEV1]
    assert len(hits) == 1
    alert = hits[0]
    assert alert.explanation is not None
    assert alert.score >= 0.9
    assert {"new region", "new wide_network"} <= {d.feature for d in alert.explanation}
    assert set(stolen["id"]) <= set(alert.evidence.event_ids)
    assert alert.dedup_key.startswith("anomaly|first-seen|")


def test_ordinary_day_raises_no_first_seen_or_volume_alert(setup):
    model, day = setup
    run = detect_anomalies(day, model)
    assert [a for a in run.alerts if a.rule_id != "isolation-forest"] == []


def test_invocation_flood_is_denial_of_wallet_for_the_function_and_volume_for_invoke(setup):
    model, day = setup
    t = _at(day, 13)
    flood = events(
        *[
            event(principal=DEV1, time=t, action="Invoke", category="invocation", resource="fn-1")
            for _ in range(600)
        ]
    )
    run = detect_anomalies(pd.concat([day, flood], ignore_index=True), model)
    wallet = [a for a in run.alerts if a.rule_id == "denial-of-wallet"]
    assert [a.resource for a in wallet] == ["fn-1"]
    assert wallet[0].explanation is not None
    assert wallet[0].explanation[0].feature == "invocations per hour"
    assert set(flood["id"][:100]) <= set(wallet[0].evidence.event_ids)
    # the function's series is denial-of-wallet's; the account's Invoke action stays volume's
    volume = [a for a in run.alerts if a.rule_id == "volume"]
    assert [a.resource for a in volume] == [None]
    assert volume[0].explanation is not None
    assert volume[0].explanation[0].baseline.startswith("median")


def test_brand_new_principal_is_cold_start_but_reading_secrets_is_first_seen_and_dormant(setup):
    model, day = setup
    newcomer = f"arn:aws:iam::{ACCOUNT}:user/dormant"
    batch = events(
        *[event(principal=newcomer, time=_at(day, 4), action="GetSecretValue") for _ in range(3)]
    )
    run = detect_anomalies(batch, model)
    assert run.unscored == 1
    # Never seen in an account watched 15 days, and its first calls read secrets: both say so.
    assert sorted(a.rule_id for a in run.alerts) == ["dormant-identity", "first-seen"]
    first = next(a for a in run.alerts if a.rule_id == "first-seen")
    assert first.explanation is not None
    assert first.explanation[0].feature == "new principal"


def test_guard_keeps_highest_scores_and_counts_held_back(setup):
    model, day = setup
    t = _at(day, 11)
    noisy = events(
        *[
            event(principal=f"arn:aws:iam::{ACCOUNT}:user/dev{p}", time=t, region=f"ap-south-{p}")
            for p in range(5)
        ]
    )
    run = detect_anomalies(
        pd.concat([day, noisy], ignore_index=True), model, config=AnomalyConfig(max_alerts=2)
    )
    assert len(run.alerts) == 2
    assert run.held_back >= 3


def test_hostile_user_agent_is_bounded_in_explanation(setup):
    model, day = setup
    hostile = "<script>" + "A" * 5000
    batch = events(event(principal=DEV1, time=_at(day, 9), user_agent=hostile, region="sa-east-1"))
    run = detect_anomalies(batch, model)
    shown = [str(d.observed) for a in run.alerts for d in a.explanation or []]
    assert shown
    assert all(len(s) <= 120 for s in shown)


def test_empty_registry_says_no_trained_model(tmp_path, setup):
    _, day = setup
    with pytest.raises(NoTrainedModel):
        detect_anomalies(day, ModelRegistry(tmp_path / "models"))


def test_calls_with_no_recorded_caller_count_as_volume_but_are_no_principal(setup):
    model, day = setup
    t = _at(day, 13)
    requests = events(
        *[
            event(
                principal=None,
                principal_type=None,
                time=t + timedelta(seconds=i),
                action="Invoke",
                category="invocation",
                resource="fn-1",
                source_ip=f"198.18.{i // 250}.{i % 250}",
            )
            for i in range(600)
        ]
    )
    run = detect_anomalies(pd.concat([day, requests], ignore_index=True), model)
    assert "fn-1" in {a.resource for a in run.alerts if a.rule_id == "denial-of-wallet"}
    series = {"volume", "denial-of-wallet"}
    assert all(a.principal for a in run.alerts if a.rule_id not in series)

    only_requests = detect_anomalies(requests, model)
    assert {a.rule_id for a in only_requests.alerts} == series
    assert only_requests.unscored == 0  # no "" pseudo-principal waiting out its cold start
