from __future__ import annotations

from datetime import UTC, datetime

from pipelines.normalize import concat_batches, filter_time, normalize_blob, normalize_blobs
from pipelines.sources.base import Blob
from tests.factories import cloudtrail_file, cloudtrail_record, json_lines, log_entry


def test_normalize_blobs_gives_one_batch_per_blob_in_order():
    blobs = [
        Blob("a.json", cloudtrail_file(cloudtrail_record())),
        Blob("b.jsonl", json_lines(log_entry())),
    ]
    batches = list(normalize_blobs(blobs))
    assert [b.events["provider"].tolist() for b in batches] == [["aws"], ["gcp"]]


def test_concat_batches_dedups_across_batches_keeping_the_first():
    record = cloudtrail_record()
    first = normalize_blob(cloudtrail_file(record), "a")
    second = normalize_blob(cloudtrail_file(record, cloudtrail_record()), "b")
    bad = normalize_blob(b"", "c")
    merged = concat_batches([first, second, bad])
    assert len(merged.events) == 2
    assert merged.events["id"].is_unique
    assert [r.source for r in merged.rejects] == ["c"]
    assert list(merged.events.index) == [0, 1]


def test_concat_of_nothing_is_an_empty_batch_with_the_schema():
    merged = concat_batches([])
    assert len(merged.events) == 0
    assert "principal" in merged.events.columns


def test_filter_time_keeps_the_half_open_range():
    records = [cloudtrail_record(eventTime=f"2026-03-02T1{h}:00:00Z") for h in (0, 1, 2)]
    events = normalize_blob(cloudtrail_file(*records), "t").events
    kept = filter_time(
        events, datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 3, 2, 12, tzinfo=UTC)
    )
    assert [t.hour for t in kept["time"]] == [10, 11]
