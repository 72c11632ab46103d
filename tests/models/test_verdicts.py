"""Verdicts that teach: true positives left out of training, false positives widening baselines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from detectors.alert import Deviation, Evidence, dedup_key
from detectors.anomaly import AnomalyConfig
from detectors.anomaly.first_seen import new_values
from detectors.anomaly.volume import volume_candidates
from models.baselines import volume_baseline
from models.bundle import TrainConfig
from models.train import train
from models.verdicts import (
    Adjustments,
    Excluded,
    adjust_history,
    adjustment_from_alert,
    series_floors,
    without_windows,
)
from pipelines.features import PrincipalHistory, volume_counts, window_start
from tests.factories import ACCOUNT, alert, copies, event, events, routine_activity

DEV0 = f"arn:aws:iam::{ACCOUNT}:user/dev0"
DEV1 = f"arn:aws:iam::{ACCOUNT}:user/dev1"
NOW = datetime(2026, 3, 20, tzinfo=UTC)


def _attack(day: datetime) -> pd.DataFrame:
    return events(
        *[
            event(principal=DEV0, time=day + timedelta(hours=3, minutes=i), source_ip="203.0.113.9")
            for i in range(5)
        ]
    )


def test_without_windows_drops_the_principals_hours_of_a_true_positive_only() -> None:
    at = datetime(2026, 3, 5, 3, tzinfo=UTC)
    batch = pd.concat(
        [_attack(at - timedelta(hours=3)), events(event(principal="other", time=at))],
        ignore_index=True,
    )
    window = Excluded(
        "aws", ACCOUNT, DEV0, None, at + timedelta(minutes=1), at + timedelta(minutes=3)
    )
    kept = without_windows(batch, [window])
    assert list(kept["principal"]) == ["other"]
    assert without_windows(batch, []) is batch


def test_train_leaves_true_positive_windows_out_of_history_and_says_so() -> None:
    activity = routine_activity(6, principals=3, per_hour=4)
    days = [g for _, g in activity.groupby(window_start(activity["time"], "day"))]
    attack = _attack(days[4]["time"].min().floor("D"))
    days[4] = pd.concat([days[4], attack], ignore_index=True)
    times = attack["time"]
    window = Excluded("aws", ACCOUNT, DEV0, None, times.min(), times.max())
    taught = train(days, TrainConfig(trees=20, min_history_days=2), exclude=[window])
    naive = train(days, TrainConfig(trees=20, min_history_days=2))
    known = lambda m: set(m.history.seen.loc[m.history.seen["kind"] == "source_ip", "value"])  # noqa: E731
    assert "203.0.113.9" in known(naive)
    assert "203.0.113.9" not in known(taught)
    assert taught.manifest["excluded_events"] == 5
    assert taught.manifest["excluded_windows"] == 1


def _first_seen_alert() -> dict:
    found = alert(
        detector="anomaly",
        rule_id="first-seen",
        principal=DEV0,
        explanation=[
            Deviation(feature="new wide_network", observed="203.0.0.0/16", baseline="20 days"),
            Deviation(feature="new user_agent", observed="python-requests", baseline="20 days"),
            Deviation(feature="new principal", observed="first activity", baseline="-"),
        ],
    )
    return found.model_dump(mode="json")


def test_a_false_first_seen_makes_its_values_known_to_the_principal() -> None:
    made = adjustment_from_alert(_first_seen_alert(), "ana", NOW)
    assert made is not None
    assert made.values == [["wide_network", "203.0.0.0/16"], ["user_agent", "python-requests"]]
    assert made.note().startswith("widened 2026-03-20 after false positive")
    batch = events(
        event(principal=DEV0, source_ip="203.0.113.9", user_agent="python-requests/2.31")
    )
    before = PrincipalHistory.from_events(events(event(principal=DEV0)))
    found = set(new_values(batch, before, "hour")["kind"])
    after = set(new_values(batch, adjust_history(before, [made]), "hour")["kind"])
    assert {"wide_network", "user_agent"} <= found
    assert not {"wide_network", "user_agent"} & after
    assert "source_ip" in after  # only the values the verdict named


def test_a_true_first_seen_keeps_its_values_new_after_the_day_summaries_learned_them() -> None:
    confirmed = adjustment_from_alert(_first_seen_alert(), "ana", NOW, confirmed=True)
    assert confirmed is not None
    assert confirmed.unlearned
    assert confirmed.values == [["wide_network", "203.0.0.0/16"], ["user_agent", "python-requests"]]
    assert confirmed.note().startswith("kept unknown 2026-03-20 after true positive")
    attack = event(principal=DEV0, source_ip="203.0.113.9", user_agent="python-requests")
    other = event(principal=DEV1, source_ip="203.0.113.9", user_agent="python-requests")
    learned = PrincipalHistory.from_events(events(event(principal=DEV0), attack, other))
    again = events(attack, other)  # the attacker back a week later, and someone else
    assert new_values(again, learned, "hour").empty
    kept = adjust_history(learned, [confirmed])
    back = new_values(again, kept, "hour")
    assert set(back.loc[back["principal"] == DEV0, "kind"]) == {"wide_network", "user_agent"}
    assert (back["principal"] != DEV1).all()  # only the confirmed principal's values


def test_a_long_value_cut_short_in_the_explanation_is_taken_whole_from_the_sample() -> None:
    agent = "Mozilla/5.0 (X11; Linux x86_64) " + "AppleWebKit/537.36 " * 8 + "Chrome/126.0"
    shown = agent[:120]
    found = alert(
        detector="anomaly",
        rule_id="first-seen",
        principal=DEV0,
        explanation=[Deviation(feature="new user_agent", observed=shown, baseline="20 days")],
        evidence=Evidence(event_ids=["e1"], sample=[{"id": "e1", "user_agent": agent}]),
    ).model_dump(mode="json")
    made = adjustment_from_alert(found, "ana", NOW, confirmed=True)
    assert made is not None
    assert made.values == [["user_agent", agent]]
    short = alert(
        detector="anomaly",
        rule_id="first-seen",
        principal=DEV0,
        explanation=[Deviation(feature="new source_ip", observed="10.0.0.1", baseline="20 days")],
        evidence=Evidence(event_ids=["e1"], sample=[{"id": "e1", "source_ip": "10.0.0.12"}]),
    ).model_dump(mode="json")
    whole = adjustment_from_alert(short, "ana", NOW, confirmed=True)
    assert whole is not None
    assert whole.values == [["source_ip", "10.0.0.1"]]  # whole already, not another address


def test_a_series_true_positive_changes_no_baseline() -> None:
    stored = alert(detector="anomaly", rule_id="volume").model_dump(mode="json")
    assert adjustment_from_alert(stored, "ana", NOW, confirmed=True) is None


def test_a_false_volume_alert_raises_its_series_bar_and_later_alerts_say_so() -> None:
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    past = copies(
        40,
        lambda i: {"time": monday + timedelta(days=i // 5, hours=10, seconds=i % 5)},
        action="ListFunctions",
    )
    baseline = volume_baseline(
        volume_counts(events(*past)), start=monday, end=monday + timedelta(days=8)
    )
    at = monday + timedelta(days=8, hours=10)
    spike = volume_counts(
        events(*copies(300, lambda i: {"time": at + timedelta(seconds=i)}, action="ListFunctions"))
    )
    assert len(volume_candidates(spike, baseline, AnomalyConfig())) == 1
    stored = alert(
        detector="anomaly",
        rule_id="volume",
        principal=None,
        resource=None,
        dedup_key=dedup_key(
            "anomaly", "volume", ACCOUNT, "action:ListFunctions", "2026-03-10T10:00:00+00:00"
        ),
        explanation=[Deviation(feature="events per window", observed=300.0, baseline="median 0")],
    ).model_dump(mode="json")
    made = adjustment_from_alert(stored, "ana", NOW)
    assert made is not None
    assert (made.entity, made.measure, made.floor) == ("action:ListFunctions", "events", 330.0)
    widened = AnomalyConfig(series_floors=series_floors([made]))
    assert volume_candidates(spike, baseline, widened).empty
    bigger = pd.concat([spike] * 2).groupby(list(spike.columns[:5]), as_index=False).sum()
    again = volume_candidates(bigger, baseline, widened)
    assert again["explanation"].iloc[0][-1].feature == "baseline adjusted"


def test_adjustments_persist_as_json_and_can_be_removed(tmp_path) -> None:
    store = Adjustments(tmp_path)
    made = adjustment_from_alert(_first_seen_alert(), "ana", NOW)
    assert made is not None
    store.add(made)
    assert Adjustments(tmp_path).items() == [made]
    assert store.remove(made.id) is True
    assert store.remove(made.id) is False
    assert store.items() == []


def test_rule_alerts_and_other_detectors_widen_nothing() -> None:
    assert adjustment_from_alert(alert().model_dump(mode="json"), None, NOW) is None
    dormant = alert(detector="anomaly", rule_id="dormant-identity").model_dump(mode="json")
    assert adjustment_from_alert(dormant, None, NOW) is None
