"""BatchContext's raw column: kept in its chunks, read by position without concatenating them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detectors.rules.context import BatchContext, ascii_caseless, take_chunked
from detectors.rules.engine import match_rules
from detectors.rules.rawbytes import RowText
from pipelines.events import events_from_arrow, events_to_arrow
from tests.detectors.rules.rulekit import sigma
from tests.factories import event, events


def test_take_chunked_returns_the_rows_in_the_callers_order():
    column = pa.chunked_array([["a", "b", None], [], ["c"], ["d", "e"]])
    rows = np.array([5, 0, 3, 3, 2, 4, 1])
    assert take_chunked(column, rows).to_pylist() == column.take(rows).to_pylist()
    assert take_chunked(column, np.array([], dtype=np.int64)).to_pylist() == []
    assert take_chunked(pa.chunked_array([["x", "y"]]), np.array([1, 0])).to_pylist() == ["y", "x"]


def test_screen_reads_raw_text_across_chunks_in_any_case():
    first = events(event(raw='{"eventName":"StopLogging"}'), event(raw='{"eventName":"Other"}'))
    second = events(event(raw='{"EVENTNAME":"STOPLOGGING"}'))
    batch = events_from_arrow(pa.concat_tables([events_to_arrow(first), events_to_arrow(second)]))
    ctx = BatchContext(batch)
    assert ctx.table.column("raw").num_chunks == 2  # the raw text is not copied into one chunk
    assert ctx.raw_contains("stoplogging", np.arange(3)).tolist() == [True, False, True]
    assert ctx.raw_contains("stoplogging", np.array([2, 1])).tolist() == [True, False]


def test_caseless_pattern_matches_ascii_letters_in_either_case_and_escapes_the_rest():
    texts = pa.array(["x AssumED-Role.x", "assumed-roleX", "assumedXrole", "ASSUMED-ROLE", None])
    found = pc.match_substring_regex(texts, ascii_caseless("assumed-role"))
    assert found.to_pylist() == [True, True, False, True, None]
    dotted = pc.match_substring_regex(
        pa.array(["s3.amazonaws", "s3Xamazonaws"]), ascii_caseless("s3.")
    )
    assert dotted.to_pylist() == [True, False]


def test_screen_keeps_rows_with_non_ascii_text_whatever_their_case_folding():
    # U+017F (long s) folds to "s" in Unicode: such a row is never dropped by an ASCII screen.
    batch = events(event(raw='{"userIdentity":{"type":"Root"}}'), event(raw='{"x":"\u017f"}'))
    assert BatchContext(batch).raw_contains("root", np.arange(2)).tolist() == [True, True]


def test_row_text_answers_per_asked_row_whether_chunks_are_searched_whole_or_taken():
    texts = [f'{{"n":{i},"t":"{"Root" if i % 3 == 0 else "user"}"}}' for i in range(40)]
    column = pa.chunked_array([texts[:2], texts[2:30], [], texts[30:]])
    rows = np.array([39, 0, 1, 5, 6, 33, 12])  # chunk 0 searched whole, chunk 1 taken
    expected = [texts[r].find("Root") >= 0 for r in rows]
    assert RowText(column, rows).search(ascii_caseless("root")).tolist() == expected
    assert RowText(column, np.array([], dtype=np.int64)).search("x").tolist() == []


def test_one_screen_searches_several_literals_and_remembers_the_set():
    batch = events(
        event(raw='{"methodName":"storage.buckets.delete"}'),
        event(raw='{"methodName":"storage.buckets.get"}'),
        event(raw='{"methodName":"SetIamPolicy"}'),
    )
    ctx = BatchContext(batch)
    found = ctx.raw_contains(["setiampolicy", "storage.buckets.delete"], np.arange(3))
    assert found.tolist() == [True, False, True]
    assert list(ctx._screens) == [("setiampolicy", "storage.buckets.delete")]


def test_first_array_gives_first_values_as_arrow_for_columns_aliases_and_raw_paths():
    batch = events(
        event(principal=None, raw={"userIdentity": {"type": "Root"}}),
        event(raw_action="Invoke", raw={"userIdentity": {"type": ["A", "B"]}}),
        event(provider="gcp", raw={}),
    )
    ctx = BatchContext(batch)
    rows = np.array([2, 0, 1])
    for name in ("principal", "eventName", "userIdentity.type", "awsRegion"):
        assert ctx.first_array(name, rows).to_pylist() == ctx.first_values(name, rows), name


def test_screen_of_some_rows_keeps_escaped_and_non_ascii_rows_and_reuses_their_texts():
    raws = [f'{{"n":{i},"methodName":"storage.objects.get"}}' for i in range(64)]
    raws[40] = '{"methodName":"SetIamPolicy"}'
    raws[41] = '{"x":"\\u0041"}'  # a \\u escape: may hide any literal
    raws[42] = '{"x":"caf\u00e9"}'  # non-ASCII: never screened out
    raws[43] = '{"methodName":"storage.buckets.delete"}'
    halves = [events(*(event(raw=r) for r in part)) for part in (raws[:32], raws[32:])]
    batch = events_from_arrow(pa.concat_tables([events_to_arrow(h) for h in halves]))
    ctx = BatchContext(batch)
    rows = np.arange(38, 46)  # fewer than an eighth of the batch: searched by row
    assert ctx.raw_contains("setiampolicy", rows).tolist() == [0, 0, 1, 1, 1, 0, 0, 0]
    text = ctx._row_text
    found = ctx.raw_contains(["storage.buckets.delete"], rows[1:])
    assert found.tolist() == [0, 0, 1, 1, 1, 0, 0]
    assert ctx._row_text is text  # the same rows' texts, not arranged again
    assert ctx._raw_unsure(None).tolist() == [i in (41, 42) for i in range(64)]


def test_columns_are_combined_only_when_read_and_row_takes_match_the_whole_table():
    parts = [
        events(event(raw='{"a":1}', principal="alice"), event(raw='{"b":2}', principal=None)),
        events(event(raw='{"c":3}', principal="bob")),
    ]
    batch = events_from_arrow(pa.concat_tables([events_to_arrow(p) for p in parts]))
    ctx = BatchContext(batch)
    assert ctx.column_text("principal").to_pylist() == ["alice", None, "bob"]
    assert set(ctx._columns) == {"principal"}  # origin, id, ...: still in their chunks
    assert ctx.events["principal"].tolist() == batch["principal"].tolist()  # Python rules
    assert ctx.events["origin"].tolist() == batch["origin"].tolist()
    assert set(ctx._columns) == {"principal"}  # ... combines nothing more
    rows = [2, 0, 2]
    expected = ctx.table.drop_columns(["raw"]).take(pa.array(rows, pa.int64()))
    assert ctx.take_columns(rows).equals(expected)
    assert ctx.table.column("origin").num_chunks == 1
    assert ctx.raw.num_chunks == 2


def test_rules_matching_nothing_share_one_read_only_empty_mask(tmp_path):
    rows = [event(action="A"), event(action="B", raw='{"x":"deep"}')]
    none = sigma(tmp_path, {"s": {"action": "zzz"}, "condition": "s"})
    raw_none = sigma(tmp_path, {"s": {"x": "shallow"}, "condition": "s"})  # decided on raw
    some = sigma(tmp_path, {"s": {"x": "deep"}, "condition": "s"})
    ctx, matches = match_rules(events(*rows), [none, raw_none, some])
    masks = ctx.masks
    assert matches[none.meta.rule_id] is masks[none.meta.rule_id] is ctx.no_rows
    assert masks[raw_none.meta.rule_id] is ctx.no_rows
    assert not ctx.no_rows.flags.writeable
    assert masks[some.meta.rule_id].tolist() == [False, True]
    assert masks[some.meta.rule_id].flags.writeable
