"""RawBytes and RowText: rows' bytes read in place, whatever the column's chunks, slices and
nulls."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa

from detectors.rules.context import ascii_caseless
from detectors.rules.rawbytes import RawBytes, RowText, ascii_only, joined


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


def test_row_text_searches_exactly_the_asked_rows_in_their_order_slices_or_taken():
    texts = [f'{{"n":{i},"t":"{"Root" if i % 3 == 0 else "user"}"}}' for i in range(60)]
    texts[7] = None  # type: ignore[call-overload]
    column = pa.chunked_array(
        [texts[:2], texts[2:40], [], pa.array(texts[40:], pa.large_string()).cast(pa.string())]
    )
    # chunk 0 whole, chunk 1 thin (taken) and with a null, chunk 3 a dense run given backwards
    rows = np.array([1, 0, 7, 9, 30, 59, 58, 57, 55, 56, 9])
    expected = [texts[r] is not None and "Root" in texts[r] for r in rows.tolist()]
    found = RowText(column, rows).search(ascii_caseless("root"))
    assert found.tolist() == expected
    assert RowText(column, np.array([], dtype=np.int64)).search("x").tolist() == []


def test_row_text_places_a_subset_of_its_rows_only_when_sorted_and_most_of_them():
    column = pa.chunked_array([["a", "b", "c"], ["d", "e"]])
    text = RowText(column, np.array([0, 1, 3, 4]))
    at = text.positions(np.array([1, 3, 4]))
    assert at is not None
    assert at.tolist() == [1, 2, 3]
    assert text.positions(np.array([1, 2, 3])) is None  # row 2 is not in it
    assert text.positions(np.array([4])) is None  # too few: a new arrangement is cheaper
    assert RowText(column, np.array([3, 0])).positions(np.array([3, 0])) is None


def test_ascii_only_reads_the_bytes_of_the_arrays_own_values():
    assert ascii_only(pa.array(["plain", None, ""]))
    assert not ascii_only(pa.array(["plain", "caf\u00e9"]))
    sliced = pa.array(["caf\u00e9", "plain", "text", "\u017f"]).slice(1, 2)
    assert ascii_only(sliced)  # the non-ASCII values lie outside the slice
    assert ascii_only(pa.array([], pa.string()))
    assert ascii_only(pa.array([None, None], pa.string()))


def test_many_rows_are_read_alike_in_any_order_with_repeats_and_nulls():
    texts = [None if i % 7 == 3 else f'{{"n":{i}}}' for i in range(90)]
    column = pa.chunked_array([texts[:10], [], texts[10:50], pa.array(texts[50:]).slice(0)])
    rows = [int(r) for r in np.random.default_rng(7).integers(0, 90, 200)]  # more than 32
    got = RawBytes(column).many(rows)
    assert [None if v is None else bytes(v).decode() for v in got] == [texts[r] for r in rows]
    assert RawBytes(column).many([]) == []


def test_joined_is_the_arrays_own_values_as_one_string():
    whole = pa.array(["skip", "ab", None, "c\\u", "", "zz"])
    assert joined(whole.slice(1, 4)).to_pylist() == ["abc\\u"]
    assert joined(pa.array([], pa.string())).to_pylist() == [""]
    assert joined(pa.array([None, ""], pa.string())).to_pylist() == [""]
    assert joined(pa.array(["x", "y"], pa.large_string())).to_pylist() == ["xy"]
