from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from pipelines.events import EVENT_SCHEMA, events_from_arrow
from pipelines.normalize import (
    concat_batches,
    concat_tables,
    filter_time,
    normalize_blob,
    normalize_blobs,
    normalize_chunks,
    normalize_table,
    normalize_table_chunks,
)
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


def test_concat_batches_keeps_the_first_of_ids_repeated_within_and_across_batches():
    a, b, c = cloudtrail_record(), cloudtrail_record(), cloudtrail_record()
    first = normalize_blob(json_lines(a, b), "a")
    second = normalize_blob(json_lines(c, b, a), "b")
    second_events = second.events.assign(id=[c["eventID"], c["eventID"], a["eventID"]])
    merged = concat_batches([first, second._replace(events=second_events)])
    assert merged.events["id"].tolist() == [a["eventID"], b["eventID"], c["eventID"]]
    assert merged.events["origin"].tolist() == ["a", "a", "b"]


def test_concat_tables_dedups_across_tables_keeping_the_first():
    shared, other = cloudtrail_record(), cloudtrail_record()
    blobs = [
        Blob("a.json", cloudtrail_file(shared)),
        Blob("b.json", b""),
        Blob("c.json", cloudtrail_file(other, shared)),
    ]
    chunks = list(normalize_table_chunks(blobs, min_rows=1))
    assert len(chunks) == 2  # the empty file waits for the next one
    table, rejects, _ = concat_tables(chunks)
    assert table.schema == EVENT_SCHEMA
    assert table["id"].to_pylist() == [shared["eventID"], other["eventID"]]
    assert table["origin"].to_pylist() == ["a.json", "c.json"]
    assert [r.source for r in rejects] == ["b.json"]


def test_chunks_left_with_repeated_ids_merge_to_what_deduplicated_chunks_do():
    a, b = cloudtrail_record(), cloudtrail_record()
    blobs = [Blob("a.json", cloudtrail_file(a, b, a)), Blob("b.json", cloudtrail_file(b, a))]
    kept = list(normalize_table_chunks(blobs, min_rows=10, dedup=False))
    assert [chunk.table.num_rows for chunk in kept] == [5]
    merged = concat_tables(kept).table
    assert merged.equals(concat_tables(normalize_table_chunks(blobs, min_rows=10)).table)
    assert merged["id"].to_pylist() == [a["eventID"], b["eventID"]]
    assert merged["origin"].to_pylist() == ["a.json", "a.json"]


def test_concat_tables_of_nothing_is_an_empty_table_with_the_schema():
    table, rejects, _ = concat_tables([])
    assert (table.schema, table.num_rows, rejects) == (EVENT_SCHEMA, 0, [])


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


def test_normalize_chunks_merges_small_blobs_and_dedups_within_a_chunk():
    shared = cloudtrail_record()
    blobs = [
        Blob("a.json", cloudtrail_file(shared, cloudtrail_record())),
        Blob("b.json", cloudtrail_file(shared)),
        Blob("c.json", b""),
        Blob("d.jsonl", json_lines(log_entry(), log_entry())),
    ]
    [chunk] = list(normalize_chunks(blobs, min_rows=1000))
    assert chunk.events["provider"].tolist() == ["aws", "aws", "gcp", "gcp"]
    assert [r.source for r in chunk.rejects] == ["c.json"]


def test_normalize_chunks_yields_once_min_rows_is_reached():
    blobs = [
        Blob(f"{n}.json", cloudtrail_file(cloudtrail_record(), cloudtrail_record()))
        for n in range(5)
    ]
    sizes = [len(chunk.events) for chunk in normalize_chunks(blobs, min_rows=3)]
    assert sizes == [4, 4, 2]


def test_normalize_table_stops_at_arrow_in_the_event_schema():
    table, rejects, _ = normalize_table(cloudtrail_file(cloudtrail_record()), "a.json")
    assert (table.schema, table.num_rows, rejects) == (EVENT_SCHEMA, 1, [])


def test_events_from_arrow_matches_pandas_own_arrow_conversion():
    table, _, _ = normalize_table(json_lines(cloudtrail_record(), log_entry()), "mixed.jsonl")
    fast = events_from_arrow(table)
    reference = table.to_pandas(types_mapper=pd.ArrowDtype)
    assert fast.equals(reference)
    assert fast.dtypes.equals(reference.dtypes)
    assert list(fast.index) == list(reference.index)


def test_chunked_rejects_name_their_own_blob_and_record():
    blobs = [
        Blob("a.jsonl", json_lines(cloudtrail_record(), cloudtrail_record(eventTime=5))),
        Blob(
            "b.jsonl",
            json_lines(log_entry()) + b"{broken\n" + json_lines(cloudtrail_record(eventTime="x")),
        ),
        Blob("c.json", b""),
    ]
    [chunk] = list(normalize_chunks(blobs, min_rows=1000))
    assert [(r.source, r.index) for r in chunk.rejects] == [
        ("a.jsonl", 1),
        ("b.jsonl", 1),
        ("b.jsonl", 2),
        ("c.json", None),
    ]
    assert chunk.events["provider"].tolist() == ["aws", "gcp"]


def test_chunks_give_the_same_events_as_blob_by_blob():
    blobs = [
        Blob(f"{n}.jsonl", json_lines(cloudtrail_record(), log_entry(), cloudtrail_record()))
        for n in range(4)
    ]
    [chunk] = list(normalize_chunks(blobs, min_rows=1000))
    assert chunk.events.equals(concat_batches(normalize_blobs(blobs)).events)


@pytest.mark.parametrize(
    ("records", "slices"), [(10, [3, 3, 4]), (7, [3, 4]), (4, [4]), (5, [2, 3]), (1, [1])]
)
def test_a_blob_is_decoded_in_equal_slices_of_about_decode_records(monkeypatch, records, slices):
    """What a blob costs beyond its bytes and its table is one slice's decoded records (at most
    3/2 DECODE_RECORDS); a remainder joins the other slices rather than paying a slice's fixed
    cost for a few records."""
    import pipelines.normalize as normalize
    from pipelines.normalize import aws, gcp

    seen: list[int] = []

    def counting(decode):
        def wrapped(raws, index):
            if raws:  # the providers a slice does not hold are called with none
                seen.append(len(raws))
            return decode(raws, index)

        return wrapped

    monkeypatch.setattr(aws, "decode", counting(aws.decode))
    monkeypatch.setattr(gcp, "decode", counting(gcp.decode))
    monkeypatch.setattr(normalize, "DECODE_RECORDS", 3)
    file = cloudtrail_file(*[cloudtrail_record() for _ in range(records)])
    table, _, _ = normalize_table(file, "a")
    assert table.num_rows == records
    assert seen == slices


def test_slices_give_the_blobs_events_and_rejects_in_record_order(monkeypatch):
    import pipelines.normalize as normalize

    lines = []
    for n in range(7):
        lines += [cloudtrail_record(), log_entry()]
        lines += [cloudtrail_record(eventTime="x")] if n % 3 == 0 else []
    data = json_lines(*lines[:5]) + b"{broken\n" + json_lines(*lines[5:])
    whole, whole_rejects, _ = normalize_table(data, "mixed.jsonl")
    monkeypatch.setattr(normalize, "DECODE_RECORDS", 2)
    sliced, sliced_rejects, _ = normalize_table(data, "mixed.jsonl")
    assert sliced.equals(whole)
    assert sliced["provider"].to_pylist()[:4] == ["aws", "gcp", "aws", "gcp"]
    assert sliced_rejects == whole_rejects
    assert [r.index for r in sliced_rejects] == [2, 5, 10, 17]
