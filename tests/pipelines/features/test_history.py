from datetime import timedelta

from pipelines.features import PrincipalHistory
from pipelines.features import history as history_module
from tests.factories import BASE_TIME, event, events


def test_update_counts_a_day_both_summaries_touch_once():
    morning = events(event(time=BASE_TIME))
    evening = events(event(time=BASE_TIME + timedelta(hours=5)))
    later = events(event(time=BASE_TIME + timedelta(days=2)))
    history = PrincipalHistory.from_events(morning).update(evening).update(later)
    assert history.principals["active_days"].tolist() == [2]
    assert history.principals["events"].tolist() == [3]


def test_history_survives_parquet_round_trip(tmp_path):
    history = PrincipalHistory.from_events(events(event(), event(source_ip="203.0.113.1")))
    history.save(tmp_path / "h")
    loaded = PrincipalHistory.load(tmp_path / "h")
    assert len(loaded.seen) == len(history.seen)
    assert loaded.principals["active_days"].tolist() == [1]


def test_seen_values_are_bounded_per_kind(monkeypatch):
    monkeypatch.setattr(history_module, "MAX_VALUES_PER_KIND", 3)
    batch = events(*[event(source_ip=f"203.0.113.{i}") for i in range(10)])
    seen = PrincipalHistory.from_events(batch).seen
    assert (seen["kind"] == "source_ip").sum() == 3
