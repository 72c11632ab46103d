"""RawBytes: each row's bytes read in place, whatever the column's chunks, slices and nulls."""

from __future__ import annotations

import orjson
import pyarrow as pa

from detectors.rules.rawbytes import RawBytes


def test_rows_read_in_place_match_the_column_values_across_chunks_slices_and_nulls():
    whole = pa.array(['{"a":1}', None, '{"b":"é"}', "", '{"c":[1,2]}'])
    column = pa.chunked_array(
        [whole.slice(1, 3), pa.array(['{"x":0}'], pa.large_string()).cast(pa.string()), whole]
    )
    expected = column.to_pylist()
    got = RawBytes(column).many(list(range(len(column))))
    assert [None if v is None else bytes(v).decode() for v in got] == expected
    one = RawBytes(column).get(6)
    assert one is not None
    assert orjson.loads(one) == {"b": "é"}


def test_a_large_string_column_is_read_with_its_wide_offsets():
    column = pa.chunked_array([pa.array(["one", None, "three"], pa.large_string())])
    assert [None if v is None else bytes(v) for v in RawBytes(column).many([2, 1, 0])] == [
        b"three",
        None,
        b"one",
    ]
