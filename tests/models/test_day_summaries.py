from datetime import date

import pandas as pd
import pytest

from detectors.anomaly.first_seen import new_values
from models.bundle import TrainConfig
from models.day_summaries import DaySummaries
from models.registry import ModelRegistry
from models.train import train
from pipelines.features import PrincipalHistory, window_start
from tests.factories import routine_activity

TRAIN_DAYS = 5


@pytest.fixture(scope="module")
def days() -> list[pd.DataFrame]:
    """Eight days of routine work; the model is trained on the first five."""
    activity = routine_activity(8, principals=3, per_hour=4)
    return [g for _, g in activity.groupby(window_start(activity["time"], "day"))]


@pytest.fixture(scope="module")
def model(days, tmp_path_factory):
    registry = ModelRegistry(tmp_path_factory.mktemp("models"))
    registry.register(train(days[:TRAIN_DAYS], TrainConfig(trees=20, min_history_days=2)))
    return registry.load()


def _day(frame: pd.DataFrame) -> date:
    return frame["time"].iloc[0].date()


def _from_new_address(frame: pd.DataFrame, address: str) -> pd.DataFrame:
    return frame.assign(source_ip=address)


def test_without_summaries_the_history_is_the_models(tmp_path, model, days):
    summaries = DaySummaries(tmp_path)
    assert summaries.history_for(model, _day(days[6])) is model.history


def test_an_address_first_used_yesterday_is_not_new_today(tmp_path, model, days):
    summaries = DaySummaries(tmp_path)
    monday = _from_new_address(days[TRAIN_DAYS], "203.0.113.9")
    tuesday = _from_new_address(days[TRAIN_DAYS + 1], "203.0.113.9")
    summaries.save(_day(monday), PrincipalHistory.from_events(monday))

    stale = new_values(tuesday, model.history, "hour")
    moved_on = new_values(tuesday, summaries.history_for(model, _day(tuesday)), "hour")

    assert "203.0.113.9" in set(stale["value"])
    assert "203.0.113.9" not in set(moved_on["value"])


def test_only_days_after_training_and_before_the_scored_day_are_used(tmp_path, model, days):
    summaries = DaySummaries(tmp_path)
    inside_training = _from_new_address(days[1], "198.51.100.1")
    scored_day = _from_new_address(days[TRAIN_DAYS + 1], "198.51.100.2")
    later = _from_new_address(days[TRAIN_DAYS + 2], "198.51.100.3")
    for frame in (inside_training, scored_day, later):
        summaries.save(_day(frame), PrincipalHistory.from_events(frame))

    history = summaries.history_for(model, _day(scored_day))

    assert history is model.history


def test_saving_a_day_again_replaces_it_and_keeps_one_copy(tmp_path, model, days):
    summaries = DaySummaries(tmp_path)
    monday = days[TRAIN_DAYS]
    tuesday = _day(days[TRAIN_DAYS + 1])
    PrincipalHistory.from_events(monday).save(summaries.root / f"{_day(monday)}.killed-run")
    summaries.save(_day(monday), PrincipalHistory.from_events(monday))
    first = summaries.history_for(model, tuesday)
    changed = _from_new_address(monday, "203.0.113.77")
    summaries.save(_day(monday), PrincipalHistory.from_events(changed))

    second = summaries.history_for(model, tuesday)

    assert summaries.days() == [_day(monday)]
    assert len([p for p in summaries.root.iterdir() if p.is_dir()]) == 1
    assert "203.0.113.77" not in set(first.seen["value"])
    assert "203.0.113.77" in set(second.seen["value"])


def test_a_pointer_to_a_foreign_folder_is_refused(tmp_path, days):
    summaries = DaySummaries(tmp_path)
    monday = days[TRAIN_DAYS]
    summaries.save(_day(monday), PrincipalHistory.from_events(monday))
    pointer = summaries.root / f"{_day(monday).isoformat()}.json"
    pointer.write_text('{"folder": "../../etc"}')

    with pytest.raises(ValueError, match="not a summary"):
        summaries.load(_day(monday))


def test_summaries_beside_the_versions_leave_the_registry_alone(tmp_path, model, days):
    registry = ModelRegistry(tmp_path)
    registry.register(model)
    monday = days[TRAIN_DAYS]
    DaySummaries(tmp_path).save(_day(monday), PrincipalHistory.from_events(monday))

    assert [v["version"] for v in registry.versions()] == ["v0001"]
    assert registry.register(model) == "v0002"
