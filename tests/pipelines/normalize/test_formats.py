from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest

from pipelines.events import EVENT_COLUMNS, EVENT_SCHEMA, events_to_arrow
from pipelines.normalize import normalize_blob
from tests.factories import cloudtrail_file, cloudtrail_record, json_lines, log_entry

GOLDEN = Path(__file__).parents[2] / "golden"


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("cloudtrail_lambda.json", 7),
        ("cloudtrail_records.jsonl", 7),
        ("lookup_events.json", 2),
        ("lookup_events_list.json", 2),
        ("eventbridge.json", 1),
        ("eventbridge.jsonl", 2),
        ("logging_entries.json", 7),
        ("log_entry.json", 1),
        ("gcloud_read.json", 7),
        ("gcs_sink.jsonl", 7),
        ("pubsub_push.json", 1),
        ("mixed.jsonl", 4),
    ],
)
def test_every_input_format_normalizes_to_the_event_schema(name, count):
    batch = normalize_blob((GOLDEN / name).read_bytes(), name)
    assert batch.rejects == []
    assert len(batch.events) == count
    assert tuple(batch.events.columns) == EVENT_COLUMNS
    assert events_to_arrow(batch.events).schema == EVENT_SCHEMA


def test_gzip_and_plain_files_give_the_same_events():
    data = (GOLDEN / "cloudtrail_lambda.json").read_bytes()
    plain = normalize_blob(data, "a.json").events
    packed = normalize_blob(gzip.compress(data), "a.json.gz").events
    assert plain.drop(columns="origin").equals(packed.drop(columns="origin"))
    assert set(plain["origin"]) == {"a.json"}
    assert set(packed["origin"]) == {"a.json.gz"}


def test_formats_of_the_same_record_agree():
    by_file = (
        normalize_blob((GOLDEN / "cloudtrail_lambda.json").read_bytes(), "f")
        .events.drop(columns="origin")
        .set_index("id")
    )
    for name in ("lookup_events.json", "eventbridge.jsonl", "cloudtrail_records.jsonl"):
        other = normalize_blob((GOLDEN / name).read_bytes(), name).events
        assert set(other["origin"]) == {name}
        other = other.drop(columns="origin").set_index("id")
        assert other.equals(by_file.loc[other.index]), name


def test_raw_of_a_pretty_printed_file_is_compact_json_of_the_record():
    records = [cloudtrail_record(), cloudtrail_record()]
    pretty = json.dumps({"Records": records}, indent=2).encode()
    events = normalize_blob(pretty, "pretty.json").events
    assert [orjson.loads(raw) for raw in events["raw"]] == records
    assert all("\n" not in raw and '": ' not in raw for raw in events["raw"])


def test_raw_of_a_lookup_event_is_the_parsed_cloudtrail_event():
    record = cloudtrail_record()
    page = {"Events": [{"EventId": "x", "CloudTrailEvent": json.dumps(record)}]}
    [raw] = normalize_blob(orjson.dumps(page), "lookup.json").events["raw"]
    assert orjson.loads(raw) == record


def test_raw_of_an_eventbridge_envelope_is_the_inner_record():
    record = cloudtrail_record()
    envelope = {
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.lambda",
        "detail": record,
    }
    [raw] = normalize_blob(orjson.dumps(envelope), "eb.json").events["raw"]
    assert orjson.loads(raw) == record


def test_events_are_deduplicated_by_id_keeping_the_first():
    first = cloudtrail_record(eventID="same", eventName="CreateFunction20150331")
    again = dict(first, eventName="DeleteFunction20150331")
    events = normalize_blob(cloudtrail_file(first, again), "dup.json").events
    assert events["action"].tolist() == ["CreateFunction"]


def test_mixed_providers_keep_file_order():
    data = json_lines(cloudtrail_record(), log_entry(), cloudtrail_record())
    events = normalize_blob(data, "mixed.jsonl").events
    assert events["provider"].tolist() == ["aws", "gcp", "aws"]


def test_organization_trail_records_keep_their_member_account():
    records = [cloudtrail_record(recipientAccountId=a) for a in ("111111111111", "222222222222")]
    events = normalize_blob(cloudtrail_file(*records), "org.json").events
    assert events["account"].tolist() == ["111111111111", "222222222222"]
