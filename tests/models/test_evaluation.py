"""Alerts against labels: caught by cited events or by principal / resource near the attack."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from models.evaluation import Flagged, Label, matches, read_labels, score_alerts

T0 = datetime(2026, 3, 7, 11, 0, tzinfo=UTC)


def _label(**fields: object) -> Label:
    record = {
        "scenario": "invocation-flood",
        "account": "111",
        "principal": "apigateway.amazonaws.com",
        "start": "2026-03-07T11:00:00Z",
        "end": "2026-03-07T11:59:00Z",
        "event_ids": ["e1", "e2"],
        **fields,
    }
    return Label.from_record(record, resources=["catalog-api"])


def _alert(n: int = 1, **fields: object) -> Flagged:
    values: dict[str, object] = {
        "id": f"a{n}",
        "detector": "anomaly",
        "rule_id": "volume",
        "account": "111",
        "principal": None,
        "resource": None,
        "first_seen": T0,
        "last_seen": T0 + timedelta(minutes=50),
        "event_ids": frozenset(),
        **fields,
    }
    return Flagged(**values)  # type: ignore[arg-type]


def test_an_alert_citing_a_labelled_event_catches_it() -> None:
    assert matches(_alert(event_ids=frozenset({"e2"})), _label())


def test_an_alert_on_the_labels_resource_near_its_time_catches_it() -> None:
    assert matches(_alert(resource="catalog-api"), _label())
    late = T0 + timedelta(hours=3)
    assert not matches(_alert(resource="catalog-api", first_seen=late, last_seen=late), _label())


def test_same_principal_in_another_account_is_not_the_attack() -> None:
    alert = _alert(principal="apigateway.amazonaws.com", account="222")
    assert not matches(alert, _label())
    assert matches(_alert(principal="apigateway.amazonaws.com"), _label())


def test_scorecard_counts_unmatched_alerts_per_day_including_quiet_days() -> None:
    stray = _alert(2, resource="other-fn")
    card = score_alerts([_alert(1, resource="catalog-api"), stray], [_label()])
    assert card.caught == {"invocation-flood (2026-03-07)": ["volume"]}
    assert card.missed == []
    assert card.unmatched == [stray]
    days = [date(2026, 3, 7), date(2026, 3, 8)]
    assert card.unmatched_per_day(days) == {date(2026, 3, 7): 1, date(2026, 3, 8): 0}


def test_a_label_no_alert_speaks_of_is_missed() -> None:
    card = score_alerts([], [_label()])
    assert card.missed == ["invocation-flood (2026-03-07)"]


def test_read_labels_skips_blank_lines() -> None:
    assert read_labels(b'{"a": 1}\n\n{"a": 2}\n') == [{"a": 1}, {"a": 2}]
