from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from pipelines.parse import classify, split_blob
from tests.factories import cloudtrail_file, cloudtrail_record, json_lines, log_entry

GOLDEN = Path(__file__).parents[2] / "golden"
LIMITS = {"max_file_bytes": 10**8, "max_record_bytes": 10**6}


def split(data: bytes):
    return split_blob(data, "blob", **LIMITS)


@pytest.mark.parametrize(
    ("name", "aws", "gcp"),
    [
        ("cloudtrail_lambda.json", 7, 0),
        ("cloudtrail_records.jsonl", 7, 0),
        ("lookup_events.json", 2, 0),
        ("lookup_events_list.json", 2, 0),
        ("eventbridge.json", 1, 0),
        ("eventbridge.jsonl", 2, 0),
        ("logging_entries.json", 0, 7),
        ("log_entry.json", 0, 1),
        ("gcloud_read.json", 0, 7),
        ("gcs_sink.jsonl", 0, 7),
        ("pubsub_push.json", 0, 1),
        ("mixed.jsonl", 2, 2),
    ],
)
def test_format_is_detected_by_content(name, aws, gcp):
    result = split((GOLDEN / name).read_bytes())
    assert (len(result.aws), len(result.gcp), result.rejects) == (aws, gcp, [])


def test_lookup_event_yields_the_parsed_cloudtrail_event():
    record = cloudtrail_record()
    page = {
        "Events": [{"EventId": record["eventID"], "CloudTrailEvent": orjson.dumps(record).decode()}]
    }
    result = split(orjson.dumps(page))
    assert orjson.loads(result.aws[0]) == record


def test_record_indexes_follow_the_file():
    result = split(cloudtrail_file(cloudtrail_record(), cloudtrail_record(), cloudtrail_record()))
    assert result.aws_index == [0, 1, 2]


def test_json_lines_indexes_are_line_numbers():
    data = json_lines(cloudtrail_record()) + b"\n" + json_lines(log_entry())
    result = split(data)
    assert (result.aws_index, result.gcp_index) == ([0], [2])


def test_unrecognized_object_is_rejected_naming_its_keys():
    result = split(json_lines(cloudtrail_record(), {"digestStartTime": "x", "awsAccountId": "1"}))
    assert len(result.aws) == 1
    [reject] = result.rejects
    assert reject.index == 1
    assert "digestStartTime" in reject.reason


def test_eventbridge_event_that_is_not_from_cloudtrail_is_rejected():
    envelope = {
        "detail-type": "EC2 Instance State-change Notification",
        "detail": {"state": "running"},
    }
    result = split(orjson.dumps(envelope))
    assert result.aws == []
    assert "carries no CloudTrail record" in result.rejects[0].reason


def test_pubsub_message_that_is_not_base64_is_rejected():
    result = split(orjson.dumps({"message": {"data": "%%%"}, "subscription": "s"}))
    assert "not base64" in result.rejects[0].reason


def test_pubsub_push_unwraps_the_log_entry():
    entry = log_entry()
    push = {
        "message": {"data": base64.b64encode(orjson.dumps(entry)).decode()},
        "subscription": "s",
    }
    result = split(orjson.dumps(push))
    assert orjson.loads(result.gcp[0]) == entry


def test_classify_uses_real_top_level_keys_not_strings():
    record = cloudtrail_record(userAgent='x"protoPayload"insertId"')
    assert classify(orjson.dumps(record)) == "aws"
    assert classify(orjson.dumps(log_entry())) == "gcp"
    assert classify(b"[1]") is None


def test_whitespace_only_file_is_rejected():
    result = split(b"  \n\n ")
    assert "only whitespace" in result.rejects[0].reason


def test_records_of_a_json_line_all_take_the_line_s_index():
    data = json_lines(log_entry(), {"Records": [cloudtrail_record(), cloudtrail_record()]})
    result = split(data)
    assert (result.aws_index, result.gcp_index) == ([1, 1], [0])


def test_an_entry_over_max_record_bytes_is_rejected_at_its_position_the_rest_kept():
    entries = [log_entry(), log_entry(insertId="x" * 5_000), log_entry()]
    result = split_blob(
        orjson.dumps({"entries": entries}), "blob", max_file_bytes=10**8, max_record_bytes=4_000
    )
    assert result.gcp_index == [0, 2]
    assert [orjson.loads(bytes(raw))["insertId"] for raw in result.gcp] == [
        entries[0]["insertId"],
        entries[2]["insertId"],
    ]
    [reject] = result.rejects
    assert (reject.index, reject.reason.split(" is ")[0]) == (1, "entry")
