from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pyarrow as pa
import pytest

from pipelines.events import EVENT_SCHEMA
from pipelines.lake import EventLake
from pipelines.lake_counts import log_types
from tests.factories import event, events, log_entry

DAY = date(2026, 3, 2)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 2, hour, minute, tzinfo=UTC)


@pytest.fixture
def lake(tmp_path) -> EventLake:
    return EventLake(str(tmp_path / "lake"))


def rows(table: pa.Table | None) -> dict[tuple[str, str, int], tuple[int, datetime]]:
    assert table is not None
    return {
        (r["account"], r["log_type"], r["hour"]): (r["n"], r["last"]) for r in table.to_pylist()
    }


def gcp(log: str, hour: int, **fields) -> dict:
    entry = log_entry(logName=f"projects/p/logs/{log}")
    return event(
        provider="gcp", account="p", time=at(hour), raw=orjson.dumps(entry).decode(), **fields
    )


def test_lambda_invocations_and_s3_object_calls_are_data_events_the_rest_management():
    table = pa.Table.from_pylist(
        [
            event(raw_action="Invoke", service="lambda.amazonaws.com"),
            event(raw_action="InvokeWithResponseStream", service="lambda.amazonaws.com"),
            event(raw_action="GetObject", service="s3.amazonaws.com"),
            event(raw_action="UpdateFunctionCode20150331v2", service="lambda.amazonaws.com"),
            event(raw_action="PutBucketPolicy", service="s3.amazonaws.com"),
        ],
        schema=EVENT_SCHEMA,
    )
    assert log_types("aws", table).to_pylist() == [
        "lambda_data", "lambda_data", "s3_data", "management", "management"
    ]  # fmt: skip


def test_google_entries_take_their_log_type_from_the_log_name():
    logs = [
        "cloudaudit.googleapis.com%2Factivity",
        "cloudaudit.googleapis.com%2Fdata_access",
        "cloudaudit.googleapis.com%2Fsystem_event",
        "cloudaudit.googleapis.com%2Fpolicy",
        "run.googleapis.com%2Frequests",
        "cloudfunctions.googleapis.com%2Fcloud-functions",
        "stdout",
    ]
    table = pa.Table.from_pylist([gcp(log, 1) for log in logs], schema=EVENT_SCHEMA)
    assert log_types("gcp", table).to_pylist() == [
        "activity", "data_access", "system_event", "policy", "request", "request", "other"
    ]  # fmt: skip


def test_store_keeps_events_per_account_log_type_and_hour_with_the_latest_time(lake):
    lake.append(
        events(
            event(time=at(9, 5)),
            event(time=at(9, 40)),
            event(time=at(10), raw_action="Invoke", service="lambda.amazonaws.com"),
            event(time=at(10, 1), account="111111111111"),
        )
    )
    assert rows(lake.counts.read("aws", DAY)) == {  # kept by the store, not counted anew
        ("210987654321", "management", 9): (2, at(9, 40)),
        ("210987654321", "lambda_data", 10): (1, at(10)),
        ("111111111111", "management", 10): (1, at(10, 1)),
    }


def test_a_second_store_adds_to_the_counts_and_repeats_add_nothing(lake):
    first = event(time=at(9, 5))
    lake.append(events(first))
    lake.append(events(first, event(time=at(9, 30))))
    assert rows(lake.counts.read("aws", DAY)) == {("210987654321", "management", 9): (2, at(9, 30))}


def test_a_partition_written_before_counts_were_kept_is_counted_from_its_files(lake):
    lake.append(events(gcp("cloudaudit.googleapis.com%2Fdata_access", 3), gcp("x%2Fy", 4)))
    lake.counts.drop("gcp", DAY)
    assert rows(lake.partition_counts("gcp", DAY)) == {
        ("p", "data_access", 3): (1, at(3)),
        ("p", "other", 4): (1, at(4)),
    }
    assert lake.counts.read("gcp", DAY) is not None  # saved for the next reader


def test_a_dropped_partition_loses_its_events_and_counts(lake):
    lake.append(events(event(time=at(9))))
    assert lake.drop_partition("aws", DAY) == 1
    assert lake.days() == []
    assert lake.partition_counts("aws", DAY) is None
    assert len(lake.read()) == 0
