"""Keyset cursors: what the service hands out comes back typed; anything else is BadCursor."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from service.alerts.queries import ALERT_ORDER
from service.jobs.models import JobRunRow
from service.query import BadCursor, Order, decode_cursor, encode_cursor

JOB_ORDER = (Order(JobRunRow.started_at), Order(JobRunRow.id))


def _crafted(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_a_handed_out_cursor_decodes_to_its_typed_values():
    moment = datetime(2026, 3, 2, 10, 0, 1, 5, tzinfo=UTC)
    assert decode_cursor(encode_cursor([moment, "a-1"]), ALERT_ORDER) == [moment, "a-1"]
    assert decode_cursor(encode_cursor([moment, 7]), JOB_ORDER) == [moment, 7]


@pytest.mark.parametrize(
    "values",
    [
        [1, "x"],  # an integer where the list holds a time
        [{"t": "2026-03-02T10:00:00"}, "x"],  # a time without its zone
        [1e308, "x"],
        [{"t": "9999-12-31T23:59:59-12:00"}, "x"],  # past year 9999 once in UTC
        [{"t": "0001-01-01T00:00:00+14:00"}, "x"],  # before year 1 once in UTC
        [{"t": "1969-12-31T23:59:59+00:00"}, "x"],
        [{"t": "2100-01-01T00:00:00+00:00"}, "x"],
        [{"t": 5}, "x"],
        [{"t": "2026-03-02T10:00:00+00:00"}, 5],  # a number where the list holds an id
        [{"t": "2026-03-02T10:00:00+00:00"}, "a\x00b"],
        [{"t": "2026-03-02T10:00:00+00:00"}, "x" * 513],
        [{"t": "2026-03-02T10:00:00+00:00"}, None],
        [{"t": "2026-03-02T10:00:00+00:00"}, ["x"]],
        [{"t": "2026-03-02T10:00:00+00:00"}],  # too short
    ],
)
def test_a_crafted_alert_cursor_is_refused(values):
    with pytest.raises(BadCursor):
        decode_cursor(_crafted(values), ALERT_ORDER)


@pytest.mark.parametrize("last", ["7", 7.0, True, 1 << 63, -(1 << 63) - 1])
def test_an_integer_column_takes_only_a_64_bit_integer(last):
    with pytest.raises(BadCursor):
        decode_cursor(_crafted([{"t": "2026-03-02T10:00:00+00:00"}, last]), JOB_ORDER)


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", _crafted({"a": 1}), ""])
def test_a_cursor_that_is_not_a_json_list_is_refused(cursor):
    with pytest.raises(BadCursor):
        decode_cursor(cursor, ALERT_ORDER)
