"""decode_all: one typed call for a batch; record by record when it fails, tolerating what
can be tolerated."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
import pytest

from pipelines.normalize import aws
from pipelines.normalize.decode import Decoded, Raw, decode_all
from pipelines.parse.schema import AwsRecord
from tests.factories import cloudtrail_record


def _decode(records: list[Any]) -> Decoded[AwsRecord]:
    raws: list[Raw] = [msgspec.Raw(orjson.dumps(r)) for r in records]
    return decode_all(aws.ONE, raws, list(range(len(raws))), aws.REQUIRED)


def _names(decoded: Decoded[AwsRecord]) -> list[str | None]:
    return [aws.resource_of(r.requestParameters, r.resources) for r in decoded.records]


@pytest.mark.parametrize("bad", [[0], [99], [0, 1], [10, 11, 12, 50, 98, 99], list(range(100))])
def test_records_around_mistyped_ones_decode_in_order_with_their_fields(bad):
    records = [cloudtrail_record(requestParameters={"functionName": f"f{i}"}) for i in range(100)]
    for i in bad:
        records[i]["requestParameters"] = f"f{i}"
    decoded = _decode(records)
    assert decoded.index == list(range(100))
    assert _names(decoded) == [None if i in bad else f"f{i}" for i in range(100)]
    assert sorted(decoded.dropped) == bad
    assert [bytes(r) for r in decoded.raws] == [orjson.dumps(r) for r in records]


def test_a_required_field_fails_its_record_and_the_others_still_decode_in_batch():
    records = [cloudtrail_record() for _ in range(50)]
    del records[20]["eventName"]
    records[30]["requestParameters"] = "x"
    decoded = _decode(records)
    assert [position for position, _, _ in decoded.failures] == [20]
    assert "eventName" in decoded.failures[0][2]
    assert decoded.index == [i for i in range(50) if i != 20]
    assert list(decoded.dropped) == [30]


def test_a_line_holding_two_values_beside_a_mistyped_record_falls_back_record_by_record():
    first, second = cloudtrail_record(), cloudtrail_record(requestParameters="x")
    third = cloudtrail_record()
    raws: list[Raw] = [
        msgspec.Raw(orjson.dumps(first) + b"," + orjson.dumps(third)),
        msgspec.Raw(orjson.dumps(second)),
    ]
    decoded = decode_all(aws.ONE, raws, [0, 1], aws.REQUIRED)
    assert [position for position, _, _ in decoded.failures] == [0]
    assert decoded.index == [1]
    assert list(decoded.dropped) == [1]


def test_a_malformed_record_beside_a_mistyped_one_is_rejected_and_the_rest_kept():
    raws: list[Raw] = [
        msgspec.Raw(orjson.dumps(cloudtrail_record(requestParameters="x"))),
        msgspec.Raw(b'{"eventID": oops}'),
        msgspec.Raw(orjson.dumps(cloudtrail_record())),
    ]
    decoded = decode_all(aws.ONE, raws, [0, 1, 2], aws.REQUIRED)
    assert decoded.index == [0, 2]
    assert [position for position, _, reason in decoded.failures] == [1]
    assert "malformed JSON" in decoded.failures[0][2]


def test_the_batch_reads_records_back_to_back_and_the_raw_column_is_each_one_as_given():
    records = [cloudtrail_record(requestParameters={"functionName": f"f{i}"}) for i in range(3)]
    raws: list[Raw] = [msgspec.Raw(b" " + orjson.dumps(r) + b"  ") for r in records]
    decoded = decode_all(aws.ONE, raws, [0, 1, 2], aws.REQUIRED)
    assert _names(decoded) == ["f0", "f1", "f2"]
    assert decoded.raw_column().to_pylist() == [bytes(r).decode() for r in raws]


@pytest.mark.parametrize(
    "line",
    [b"{} {}", b"{}{}", b"   ", b""],
    ids=["two values", "two values back to back", "blank", "empty"],
)
def test_a_line_holding_two_values_or_none_is_rejected_and_the_others_kept(line: bytes):
    first, third = cloudtrail_record(), cloudtrail_record()
    raws: list[Raw] = [msgspec.Raw(orjson.dumps(first)), line, msgspec.Raw(orjson.dumps(third))]
    decoded = decode_all(aws.ONE, raws, [0, 1, 2], aws.REQUIRED)
    assert decoded.index == [0, 2]
    assert [position for position, _, _ in decoded.failures] == [1]
    assert decoded.raw_column().to_pylist() == [orjson.dumps(r).decode() for r in (first, third)]
