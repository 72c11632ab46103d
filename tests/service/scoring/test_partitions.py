"""Partitions: oversized accounts split by principal give exactly the alerts of whole ones; a
partition is read without ``raw`` and fetches records by id."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.ingest import ingest_range
from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.scoring.day import detect_day
from service.scoring.job import day_range
from service.scoring.partitions import RawFetcher, plan_partitions, read_partition
from tests.factories import (
    BASE_TIME,
    concurrency_zero,
    event,
    events,
    failed_console_login,
    user_arn,
)
from tests.service.scoring.conftest import DAY

WHOLE = 10**9


def _detect(settings: Settings, part_events: int) -> tuple[int, list[dict[str, Any]]]:
    """(partitions that were split, every alert as JSON) for the day in the settings' lake."""
    day = detect_day(settings, *day_range(DAY), part_events=part_events)
    return sum(p.split for p in day.parts), [a.model_dump(mode="json") for a in day.alerts]


def _routine(principal: str, n: int, start_minute: int = 0) -> list[dict[str, Any]]:
    return [
        event(principal=principal, time=BASE_TIME + timedelta(minutes=start_minute, seconds=i))
        for i in range(n)
    ]


def test_an_oversized_account_is_split_into_principal_ranges_that_cover_it(
    settings: Settings,
) -> None:
    lake = EventLake(settings.lake_root)
    rows = [row for p in range(6) for row in _routine(user_arn(f"p{p}"), 20)]
    lake.append(events(*rows, event(principal=None), event(account="other")))
    parts = plan_partitions(lake, settings.lake_root, *day_range(DAY), part_events=45)

    split = [p for p in parts if p.split]
    assert len(split) == 3  # 2 principals (40 events) each; the unnamed event rides in the first
    assert [p.events for p in split] == [41, 40, 40]
    assert [p.accounts for p in parts if not p.split] == [("other",)]
    read = [read_partition(lake, p) for p in split]
    assert sum(len(r) for r in read) == 121
    assert read[0]["principal"].isna().sum() == 1
    assert {frozenset(r["principal"].dropna()) for r in read} == {
        frozenset({user_arn("p0"), user_arn("p1")}),
        frozenset({user_arn("p2"), user_arn("p3")}),
        frozenset({user_arn("p4"), user_arn("p5")}),
    }


def test_one_principal_larger_than_a_partition_is_not_split(settings: Settings) -> None:
    lake = EventLake(settings.lake_root)
    lake.append(events(*_routine(user_arn("busy"), 30)))
    (part,) = plan_partitions(lake, settings.lake_root, *day_range(DAY), part_events=10)
    assert not part.split
    assert part.events == 30


def test_a_partition_is_read_without_raw_and_fetches_records_by_id(settings: Settings) -> None:
    lake = EventLake(settings.lake_root)
    rows = [event(raw={"n": i}) for i in range(5)]
    lake.append(events(*rows))
    (part,) = plan_partitions(lake, settings.lake_root, *day_range(DAY))
    frame = read_partition(lake, part)
    assert frame["raw"].isna().all()
    assert frame["id"].tolist() == [r["id"] for r in rows]
    fetch = RawFetcher(lake, part)
    assert fetch([rows[3]["id"], rows[1]["id"]]) == {
        rows[3]["id"]: '{"n":3}',
        rows[1]["id"]: '{"n":1}',
    }
    assert fetch.calls == 1


def test_a_correlation_across_principals_in_different_ranges_fires_as_in_one(
    settings: Settings,
) -> None:
    # ten failed console logins from one address, each against another user: brute force by
    # (account, source_ip); every user also has routine work, so each range holds few of them
    rows: list[dict[str, Any]] = []
    for p in range(10):
        name = f"p{p:02d}"
        rows += _routine(user_arn(name), 20, start_minute=p)
        rows.append(failed_console_login(name, time=BASE_TIME + timedelta(hours=2, seconds=30 * p)))
    EventLake(settings.lake_root).append(events(*rows))

    split_parts, split = _detect(settings, 50)
    _, whole = _detect(settings, WHOLE)

    assert split_parts >= 4
    assert split == whole
    (brute,) = [a for a in whole if a["rule_id"] == "aws_console_login_bruteforce"]
    assert brute["count"] == 10
    assert brute["title"].startswith("AWS console") or "203.0.113.77" in brute["title"]
    assert brute["evidence"]["sample"][0]["raw"] == {"userIdentity": {"userName": "p00"}}


def test_a_rule_alert_whose_key_spans_ranges_is_rebuilt_whole(settings: Settings) -> None:
    # two users throttle the same function, turn about: one alert per (account, resource) with
    # the evidence in time order (folding the two ranges' alerts would not interleave it)
    rows = _routine(user_arn("a"), 30) + _routine(user_arn("z"), 30, start_minute=5)
    at = [BASE_TIME + timedelta(hours=1, seconds=s) for s in range(3)]
    rows += [
        concurrency_zero(principal=user_arn("z"), time=at[0]),
        concurrency_zero(principal=user_arn("a"), time=at[1]),
        concurrency_zero(principal=user_arn("z"), time=at[2]),
    ]
    EventLake(settings.lake_root).append(events(*rows))

    split_parts, split = _detect(settings, 40)
    _, whole = _detect(settings, WHOLE)

    assert split_parts == 2
    assert split == whole
    (throttled,) = [a for a in whole if a["rule_id"] == "aws_lambda_concurrency_zero"]
    assert throttled["count"] == 3
    assert throttled["principal"] == user_arn("z")  # the first event's, as in one batch
    assert throttled["evidence"]["event_ids"] == [r["id"] for r in rows[-3:]]


@pytest.mark.slow
def test_split_accounts_give_the_alerts_of_whole_ones_on_a_simulated_day(
    settings: Settings, simulated_day: Path
) -> None:
    lake = EventLake(settings.lake_root)
    ingest_range([str(simulated_day)], lake, settings, *day_range(DAY))

    split_parts, split = _detect(settings, 300)
    _, whole = _detect(settings, WHOLE)

    assert split_parts > 3
    assert len(whole) > 10
    assert split == whole


def test_an_id_left_twice_on_disk_is_read_once_in_time_order(settings: Settings) -> None:
    lake = EventLake(settings.lake_root)
    rows = [event(time=BASE_TIME + timedelta(seconds=s)) for s in (3, 1, 2)]
    lake.append(events(*rows))
    (path,) = Path(lake.root).rglob("part-*.parquet")
    path.with_name("part-copy.parquet").write_bytes(path.read_bytes())  # a compaction crash
    (part,) = plan_partitions(lake, settings.lake_root, *day_range(DAY))

    read = read_partition(lake, part)

    assert part.events == 6
    assert read["id"].tolist() == [rows[1]["id"], rows[2]["id"], rows[0]["id"]]
