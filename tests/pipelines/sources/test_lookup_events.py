from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from pipelines.normalize import concat_batches, normalize_blob
from pipelines.sources import mark_done
from pipelines.sources.lookup_events import LookupEventsSource, TokenBucket
from tests.factories import cloudtrail_record
from tests.fakes.cloudtrail_server import CloudTrailServer

START = datetime(2026, 3, 2, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> str:
    return (START + timedelta(hours=hour, minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def source(settings, server, **kw) -> LookupEventsSource:
    kw.setdefault("rate", 50.0)
    kw.setdefault("now", lambda: NOW)
    return LookupEventsSource("cloudtrail://eu-central-1", settings, endpoint_url=server.url, **kw)


def drain(src, start=START, end=NOW):
    blobs = list(src.blobs(start, end))
    for blob in blobs:
        mark_done(src, blob)
    return blobs


@pytest.mark.integration
def test_pages_of_fifty_are_blobs_in_the_lookup_events_shape(settings, aws_env):
    records = [cloudtrail_record(eventTime=at(1, 1 + n % 58)) for n in range(120)]
    with CloudTrailServer(records) as server:
        blobs = drain(source(settings, server))
    assert all(request["MaxResults"] == 50 for request in server.requests)
    sizes = [len(orjson.loads(blob.data)["Events"]) for blob in blobs if b"eventID" in blob.data]
    assert sorted(sizes) == [20, 50, 50]
    batch = concat_batches(normalize_blob(b.data, b.name) for b in blobs)
    assert batch.rejects == []
    assert sorted(batch.events["id"]) == sorted(r["eventID"] for r in records)


@pytest.mark.integration
def test_range_is_cut_into_windows_that_do_not_overlap(settings, aws_env):
    with CloudTrailServer([]) as server:
        drain(source(settings, server, window=timedelta(hours=4)))
    windows = [
        (datetime.fromtimestamp(r["StartTime"], UTC), datetime.fromtimestamp(r["EndTime"], UTC))
        for r in server.requests
    ]
    second = timedelta(seconds=1)
    assert windows == [
        (START + timedelta(hours=h), START + timedelta(hours=h + 4) - second) for h in (0, 4, 8)
    ]


@pytest.mark.integration
def test_event_on_a_window_edge_is_read_once(settings, aws_env):
    edge = cloudtrail_record(eventTime=at(4))
    with CloudTrailServer([edge]) as server:
        blobs = drain(source(settings, server, window=timedelta(hours=4)))
    assert sum(edge["eventID"].encode() in blob.data for blob in blobs) == 1


@pytest.mark.integration
def test_rerun_starts_at_the_last_completed_window(settings, aws_env):
    records = [cloudtrail_record(eventTime=at(2)), cloudtrail_record(eventTime=at(9))]
    with CloudTrailServer(records) as server:
        first = source(settings, server, window=timedelta(hours=4), settle=timedelta(0))
        blobs = list(first.blobs(START, NOW))
        for blob in blobs[:1]:  # only the first window gets stored before a "crash"
            mark_done(first, blob)
        server.requests.clear()
        drain(source(settings, server, window=timedelta(hours=4)))
    starts = [datetime.fromtimestamp(r["StartTime"], UTC).hour for r in server.requests]
    assert starts == [4, 8]


@pytest.mark.integration
def test_checkpoint_stays_behind_the_settle_delay(settings, aws_env):
    with CloudTrailServer([]) as server:
        src = source(settings, server, settle=timedelta(minutes=15))
        drain(src)
    assert src.checkpoint.state["done_until"] == (NOW - timedelta(minutes=15)).isoformat()


@pytest.mark.integration
def test_full_ignores_the_checkpoint(settings, aws_env):
    with CloudTrailServer([cloudtrail_record(eventTime=at(1))]) as server:
        drain(source(settings, server))
        again = drain(source(settings, server, full=True))
    assert any(b"eventID" in blob.data for blob in again)


@pytest.mark.integration
def test_throttling_is_retried_by_botocore(settings, aws_env):
    with CloudTrailServer([cloudtrail_record(eventTime=at(1))], throttle_first=2) as server:
        src = source(settings, server, window=timedelta(hours=12))
        blobs = drain(src)
    assert len(server.times) == 3
    assert src.requests == 3
    assert b"eventID" in blobs[0].data


@pytest.mark.integration
def test_requests_are_paced_by_the_rate_limit(settings, aws_env):
    with CloudTrailServer([]) as server:
        drain(source(settings, server, rate=10.0, window=timedelta(hours=2)))
    assert len(server.times) == 6
    assert server.times[-1] - server.times[0] >= 0.45  # 5 gaps of 0.1 s


@pytest.mark.integration
def test_start_older_than_ninety_days_is_clamped_with_a_warning(settings, aws_env, caplog):
    with CloudTrailServer([]) as server, caplog.at_level(logging.WARNING):
        drain(source(settings, server, window=timedelta(days=30)), start=NOW - timedelta(days=200))
    first = datetime.fromtimestamp(server.requests[0]["StartTime"], UTC)
    assert first == NOW - timedelta(days=90)
    assert "90 days" in caplog.text


def test_token_bucket_waits_for_the_next_token():
    clock = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    bucket = TokenBucket(2.0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        bucket.acquire()
    assert waits == [0.5, 0.5]
    clock[0] += 10
    assert bucket.acquire() == 0.0


def test_token_bucket_refuses_a_nonsense_rate():
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0)


def test_token_bucket_really_sleeps():
    bucket = TokenBucket(20.0)
    began = time.monotonic()
    for _ in range(3):
        bucket.acquire()
    assert time.monotonic() - began >= 0.09
