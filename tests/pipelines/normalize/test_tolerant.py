"""Records mistyped in an optional field are kept without it; required fields still reject.

Every case: the record is an event, the field's columns read null, ``raw`` is the record as
logged, and ``Batch.dropped`` counts the field and the reason. Shapes seen from exporters and
other tools' test data: strings where objects belong, lists of ARNs, Panther-style times.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pandas as pd
import pytest

from pipelines.dropped import DroppedFields
from pipelines.normalize import concat_batches, normalize_blob, normalize_chunks
from pipelines.sources.base import Blob
from tests.factories import HOSTILE, cloudtrail_file, cloudtrail_record, json_lines, log_entry


def _with(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(record)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    node[last] = value
    return out


def _one_kept(data: bytes) -> tuple[pd.Series, DroppedFields]:
    batch = normalize_blob(data, "t")
    assert batch.rejects == []
    [row] = batch.events.to_dict("records")
    return pd.Series(row), batch.dropped


def _reasons(dropped: DroppedFields) -> dict[str, int]:
    return {name: n for (name, _), n in dropped.counts.items()}


@pytest.mark.parametrize(
    ("path", "value", "nulled"),
    [
        ("requestParameters", '{"functionName": "billing"}', "resource"),
        ("resources", ["arn:aws:lambda:eu-central-1:210987654321:function:billing"], "resource"),
        ("userIdentity", "arn:aws:iam::210987654321:user/sam", "principal"),
        ("userIdentity.sessionContext", "session", "principal"),
        ("errorCode", 403, "outcome"),
        ("sourceIPAddress", ["192.0.2.1"], "source_ip"),
    ],
)
def test_cloudtrail_record_mistyped_in_an_optional_field_is_kept_without_it(path, value, nulled):
    record = _with(cloudtrail_record(requestParameters=None), path, value)
    if path == "resources":
        record["requestParameters"] = None
    event, dropped = _one_kept(cloudtrail_file(record))
    assert pd.isna(event[nulled])
    assert orjson.loads(event["raw"]) == record
    assert _reasons(dropped) == {path: 1}


def test_a_mistyped_identity_is_no_principal_not_an_anonymous_one():
    record = cloudtrail_record(userIdentity="root")
    event, _ = _one_kept(cloudtrail_file(record))
    assert (event["principal"], event["principal_type"], event["session"]) == (None, None, None)


def test_a_mistyped_mfa_attribute_keeps_the_principal():
    record = cloudtrail_record()
    record["userIdentity"]["sessionContext"] = {"attributes": {"mfaAuthenticated": 1}}
    event, dropped = _one_kept(cloudtrail_file(record))
    assert event["principal"] == record["userIdentity"]["arn"]
    assert _reasons(dropped) == {"userIdentity.sessionContext.attributes.mfaAuthenticated": 1}


def test_a_mistyped_error_code_is_an_unknown_outcome_not_a_success():
    event, _ = _one_kept(cloudtrail_file(cloudtrail_record(errorCode=403)))
    assert pd.isna(event["outcome"])
    assert pd.isna(event["error_code"])


def test_a_record_with_two_bad_fields_loses_both_and_counts_both():
    record = cloudtrail_record(requestParameters="x", resources="y", readOnly=7)
    event, dropped = _one_kept(cloudtrail_file(record))
    assert _reasons(dropped) == {"requestParameters": 1, "resources": 1, "readOnly": 1}
    assert event["resource"] is None
    assert event["read_only"] is True  # absent: derived from the category, as for any record


@pytest.mark.parametrize(
    ("path", "value", "nulled"),
    [
        ("protoPayload.requestMetadata", "198.51.100.3", "source_ip"),
        ("protoPayload.authenticationInfo", "kim@example.org", "principal"),
        ("protoPayload.status", {"code": "7", "message": "PERMISSION_DENIED"}, "outcome"),
        ("protoPayload.status", "PERMISSION_DENIED", "outcome"),
        ("protoPayload.resourceName", {"name": "hook"}, "resource"),
        ("resource.labels", {"project_id": "demo-proj", "zone": 3}, None),
    ],
)
def test_log_entry_mistyped_in_an_optional_field_is_kept_without_it(path, value, nulled):
    entry = _with(log_entry(), path, value)
    event, dropped = _one_kept(json_lines(entry))
    if nulled:
        assert pd.isna(event[nulled])
    assert orjson.loads(event["raw"]) == entry
    [(name, reason)] = dropped.counts
    assert path.startswith(name) or name.startswith(path)
    assert reason.startswith("Expected")


def test_a_mistyped_status_code_leaves_error_code_and_outcome_unknown():
    entry = _with(log_entry(), "protoPayload.status", {"code": "7"})
    event, _ = _one_kept(json_lines(entry))
    assert pd.isna(event["outcome"])
    assert pd.isna(event["error_code"])
    assert event["principal"] == "kim@example.org"


def test_a_mistyped_caller_is_no_principal_not_anonymous():
    entry = _with(log_entry(), "protoPayload.authenticationInfo", "kim@example.org")
    event, _ = _one_kept(json_lines(entry))
    assert (event["principal"], event["principal_type"]) == (None, None)


@pytest.mark.parametrize(
    "logged",
    ["2024-12-12 16:04:32.000000000", "2024-12-12 16:04:32", "2024-12-12T16:04:32.000000000"],
)
def test_panther_style_time_without_a_zone_is_read_as_utc(logged):
    aws = cloudtrail_record(eventTime=logged)
    gcp = log_entry(timestamp=logged)
    batch = normalize_blob(json_lines(aws, gcp), "panther.jsonl")
    assert batch.rejects == []
    want = pd.Timestamp("2024-12-12 16:04:32", tz="UTC")
    assert batch.events["time"].tolist() == [want, want]


def test_panther_style_time_is_read_beside_a_bad_time_and_a_zoned_one():
    records = [
        cloudtrail_record(eventTime="2024-12-12 16:04:32.000000000"),
        cloudtrail_record(eventTime="yesterday"),
        cloudtrail_record(eventTime="2024-12-12T18:04:32+02:00"),
    ]
    batch = normalize_blob(cloudtrail_file(*records), "t")
    assert [r.index for r in batch.rejects] == [1]
    want = pd.Timestamp("2024-12-12 16:04:32", tz="UTC")
    assert batch.events["time"].tolist() == [want, want]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"eventID": 7}, "eventID"),
        ({"eventTime": {"at": "now"}}, "eventTime"),
        ({"eventName": None}, "eventName"),
    ],
)
def test_cloudtrail_record_without_a_required_field_is_still_a_reject_naming_it(fields, field):
    records = [cloudtrail_record(), cloudtrail_record(requestParameters="x", **fields)]
    batch = normalize_blob(cloudtrail_file(*records), "trail.json")
    assert len(batch.events) == 1
    [reject] = batch.rejects
    assert (reject.source, reject.index) == ("trail.json", 1)
    assert field in reject.reason
    assert not batch.dropped  # nothing kept from the rejected record


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.pop("insertId"), "insertId"),
        (lambda e: e.update(timestamp=1733, resource="x"), "timestamp"),
        (lambda e: e.update(protoPayload="google.iam.admin.v1.CreateKey"), "protoPayload"),
    ],
)
def test_log_entry_without_a_required_field_is_still_a_reject_naming_it(change, field):
    entry = log_entry()
    change(entry)
    batch = normalize_blob(json_lines(log_entry(), entry), "sink.jsonl")
    assert len(batch.events) == 1
    [reject] = batch.rejects
    assert (reject.source, reject.index) == ("sink.jsonl", 1)
    assert field in reject.reason


def test_hostile_strings_survive_the_tolerant_path_verbatim():
    record = cloudtrail_record(
        requestParameters=HOSTILE + " - at `$.eventID`",
        userAgent=HOSTILE,
        resources=[HOSTILE],
    )
    event, dropped = _one_kept(cloudtrail_file(record))
    assert event["user_agent"] == HOSTILE
    assert orjson.loads(event["raw"])["requestParameters"] == HOSTILE + " - at `$.eventID`"
    assert set(_reasons(dropped)) == {"requestParameters", "resources"}
    assert all(HOSTILE not in line for line in dropped.lines())


def test_tolerated_records_keep_their_place_and_the_typed_ones_their_columns():
    records = [cloudtrail_record(), cloudtrail_record(requestParameters="x"), cloudtrail_record()]
    batch = normalize_blob(cloudtrail_file(*records), "t")
    assert batch.events["id"].tolist() == [r["eventID"] for r in records]
    assert batch.events["resource"].isna().tolist() == [False, True, False]


def test_a_log_entry_baited_as_cloudtrail_is_still_tolerated_as_gcp():
    entry = _with(log_entry(), "protoPayload.requestMetadata", '"eventVersion": "1.09"')
    batch = normalize_blob(json_lines(entry), "bait.jsonl")
    assert batch.rejects == []
    assert batch.events["provider"].tolist() == ["gcp"]
    assert _reasons(batch.dropped) == {"protoPayload.requestMetadata": 1}


def test_counts_add_up_across_blobs_chunks_and_batches():
    mistyped = cloudtrail_record(requestParameters="y")
    blobs = [
        Blob("a.json", cloudtrail_file(cloudtrail_record(requestParameters="x"))),
        Blob("b.json", cloudtrail_file(mistyped, cloudtrail_record())),
        Blob("c.jsonl", json_lines(_with(log_entry(), "protoPayload.requestMetadata", "z"))),
    ]
    [chunk] = normalize_chunks(blobs, min_rows=1000)
    assert _reasons(chunk.dropped) == {"requestParameters": 2, "protoPayload.requestMetadata": 1}
    each = concat_batches(normalize_blob(b.data, b.name) for b in blobs)
    assert each.dropped == chunk.dropped
    assert chunk.dropped.total == 3
    assert chunk.dropped.as_dict() == {
        "protoPayload.requestMetadata": {"Expected `object | null`, got `str`": 1},
        "requestParameters": {"Expected `object | null`, got `str`": 2},
    }


def test_a_record_rejected_for_its_time_counts_no_dropped_field():
    record = cloudtrail_record(requestParameters="x", eventTime="yesterday")
    batch = normalize_blob(cloudtrail_file(record), "t")
    assert len(batch.rejects) == 1
    assert not batch.dropped


def test_clean_input_reports_nothing_dropped():
    batch = normalize_blob(cloudtrail_file(cloudtrail_record()), "t")
    assert not batch.dropped
    assert batch.dropped.lines() == []
