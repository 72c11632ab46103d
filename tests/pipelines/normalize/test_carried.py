"""Carried raw fields are the raw values exactly, or marked unknown; events do not change."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from pipelines.normalize import carried, concat_tables, normalize_table_chunks
from pipelines.sources.base import Blob
from tests.factories import cloudtrail_file, cloudtrail_record, json_lines, log_entry


def _tables(*blobs: bytes, carry: bool) -> pa.Table:
    chunks = normalize_table_chunks(
        [Blob(f"blob-{i}", data) for i, data in enumerate(blobs)], carry=carry
    )
    table, rejects, _ = concat_tables(chunks)
    assert rejects == []
    return table


def _carried(*blobs: bytes) -> list[dict[str, Any]]:
    events, raw_fields = carried.split(_tables(*blobs, carry=True))
    return [
        {"id": event_id, **row}
        for event_id, row in zip(
            events.column("id").to_pylist(), raw_fields.to_pylist(), strict=True
        )
    ]


def test_carried_values_are_the_logged_ones_on_cloudtrail_rows():
    role = cloudtrail_record(
        userIdentity={
            "type": "AssumedRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/app/s1",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::1:role/app"}},
        },
        eventType="AwsApiCall",
    )
    service = cloudtrail_record(userIdentity={"invokedBy": "lambda.amazonaws.com"})
    [first, second] = _carried(cloudtrail_file(role, service))
    assert first == {
        "id": role["eventID"],
        "userIdentity.type": "AssumedRole",
        "userIdentity.arn": "arn:aws:sts::123456789012:assumed-role/app/s1",
        "userIdentity.invokedBy": None,
        "userIdentity.sessionContext.sessionIssuer.type": "Role",
        "eventType": "AwsApiCall",
        carried.KNOWN: True,
    }
    assert second["userIdentity.invokedBy"] == "lambda.amazonaws.com"
    assert second["userIdentity.type"] is None  # absent and null read alike: no value
    assert second[carried.KNOWN] is True


def test_a_value_the_decode_could_not_keep_is_unknown():
    mistyped = cloudtrail_record()
    mistyped["userIdentity"]["type"] = 7  # dropped by the tolerant decode
    listed = cloudtrail_record(userIdentity={"sessionContext": {"sessionIssuer": [{}]}})
    odd_issuer = cloudtrail_record(userIdentity={"sessionContext": {"sessionIssuer": {"type": 1}}})
    odd_event_type = cloudtrail_record(eventType={"kind": "AwsApiCall"})
    plain = cloudtrail_record()
    rows = _carried(cloudtrail_file(mistyped, listed, odd_issuer, odd_event_type, plain))
    assert [row[carried.KNOWN] for row in rows] == [False, False, False, False, True]


def test_google_cloud_rows_carry_nothing_known():
    # a LogEntry may hold any key; the typed decode never reads userIdentity there
    entry = log_entry(userIdentity={"type": "Root"})
    [row] = _carried(json_lines(entry))
    assert row[carried.KNOWN] is False
    assert row["userIdentity.type"] is None


def test_carrying_changes_no_event_column():
    blobs = (
        cloudtrail_file(cloudtrail_record(), cloudtrail_record(eventType=3)),
        json_lines(log_entry(), log_entry()),
    )
    events, _ = carried.split(_tables(*blobs, carry=True))
    assert events.equals(_tables(*blobs, carry=False))
