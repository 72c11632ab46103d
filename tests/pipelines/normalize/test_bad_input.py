from __future__ import annotations

import gzip

import orjson
import pytest

from pipelines.normalize import normalize_blob
from pipelines.settings import Settings
from tests.factories import cloudtrail_file, cloudtrail_record, json_lines, log_entry

HOSTILE = [
    "quote \" and backslash \\ and 'single'",
    "new\nline and\r\ncarriage",
    "\x1b[31mred\x1b[0m ANSI and \x07 bell",
    "<script>alert(1)</script>",
    "ünïcødé ☃ \u202e right-to-left",
    "A" * 100_000,
]


def test_empty_file_is_one_reject():
    batch = normalize_blob(b"", "empty.json")
    assert len(batch.events) == 0
    [reject] = batch.rejects
    assert (reject.source, reject.index) == ("empty.json", None)
    assert "empty" in reject.reason


def test_truncated_gzip_keeps_whole_records_and_rejects_the_rest():
    records = [
        cloudtrail_record(requestParameters={"functionName": f"f{i}" * 20}) for i in range(200)
    ]
    data = gzip.compress(orjson.dumps({"Records": records}))
    batch = normalize_blob(data[: len(data) * 2 // 3], "cut.json.gz")
    kept = len(batch.events)
    assert 0 < kept < 200
    assert batch.events["id"].tolist() == [r["eventID"] for r in records[:kept]]
    reasons = " | ".join(r.line() for r in batch.rejects)
    assert "truncated gzip" in reasons
    assert f"record {kept}" in reasons


def test_truncated_gzip_of_json_lines_keeps_every_whole_line():
    records = [cloudtrail_record() for _ in range(100)]
    data = gzip.compress(json_lines(*records))
    batch = normalize_blob(data[: len(data) // 2], "cut.jsonl.gz")
    assert 0 < len(batch.events) < 100
    assert any("truncated gzip" in r.reason for r in batch.rejects)


def test_malformed_json_line_is_rejected_and_the_rest_goes_on():
    data = (
        json_lines(cloudtrail_record())
        + b'{"eventID": "x", oops}\n'
        + json_lines(cloudtrail_record())
    )
    batch = normalize_blob(data, "lines.jsonl")
    assert len(batch.events) == 2
    [reject] = batch.rejects
    assert (reject.source, reject.index) == ("lines.jsonl", 1)
    assert "malformed JSON" in reject.reason


def test_records_file_broken_in_the_middle_keeps_the_records_before():
    good = orjson.dumps(
        {"Records": [cloudtrail_record(), cloudtrail_record(), cloudtrail_record()]}
    )
    broken = good[: good.rindex(b'{"eventVersion"')] + b'{"eventVersion": ]]]}'
    batch = normalize_blob(broken, "broken.json")
    assert len(batch.events) == 2
    assert batch.rejects[-1].index == 2


def test_malformed_single_document_is_one_reject_naming_the_file():
    batch = normalize_blob(b'{"insertId": "a", "timestamp": ', "bad.json")
    assert len(batch.events) == 0
    assert batch.rejects[0].source == "bad.json"
    assert "malformed JSON" in batch.rejects[0].reason


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"eventTime": 1700000000}, "eventTime"),
        ({"eventSource": {"name": "lambda"}}, "eventSource"),
        ({"eventID": None}, "eventID"),
        ({"eventName": ["Invoke"]}, "eventName"),
    ],
)
def test_mistyped_record_is_rejected_naming_the_field(fields, field):
    records = [cloudtrail_record(), cloudtrail_record(**fields), cloudtrail_record()]
    batch = normalize_blob(cloudtrail_file(*records), "typed.json")
    assert batch.events["id"].tolist() == [records[0]["eventID"], records[2]["eventID"]]
    [reject] = batch.rejects
    assert reject.index == 1
    assert field in reject.reason


def test_record_missing_a_required_field_is_rejected():
    record = cloudtrail_record()
    del record["eventSource"]
    batch = normalize_blob(cloudtrail_file(cloudtrail_record(), record), "missing.json")
    assert len(batch.events) == 1
    assert "eventSource" in batch.rejects[0].reason


def test_unparseable_time_is_rejected():
    batch = normalize_blob(
        cloudtrail_file(cloudtrail_record(eventTime="yesterday"), cloudtrail_record()), "t"
    )
    assert len(batch.events) == 1
    assert batch.rejects[0].index == 0
    assert "ISO 8601" in batch.rejects[0].reason


def test_entry_without_audit_payload_is_rejected():
    entry = log_entry()
    del entry["protoPayload"]
    batch = normalize_blob(json_lines(entry, log_entry()), "sink.jsonl")
    assert len(batch.events) == 1
    assert "protoPayload" in batch.rejects[0].reason


def test_record_over_max_record_bytes_is_rejected_and_the_rest_kept():
    settings = Settings(max_record_bytes=1_000_000)
    huge = cloudtrail_record(requestParameters={"functionName": "f", "blob": "x" * 50_000_000})
    records = [cloudtrail_record(), huge, cloudtrail_record()]
    batch = normalize_blob(cloudtrail_file(*records), "huge.json", settings=settings)
    assert len(batch.events) == 2
    [reject] = batch.rejects
    assert reject.index == 1
    assert "max_record_bytes" in reject.reason
    assert len(reject.snippet) <= 512


def test_huge_json_line_is_rejected_without_decoding():
    settings = Settings(max_record_bytes=1_000_000)
    data = json_lines(cloudtrail_record(userAgent="x" * 2_000_000), cloudtrail_record())
    batch = normalize_blob(data, "huge.jsonl", settings=settings)
    assert len(batch.events) == 1
    assert "max_record_bytes" in batch.rejects[0].reason


def test_file_decompressing_over_max_file_bytes_is_rejected_whole():
    settings = Settings(max_file_bytes=100_000)
    data = cloudtrail_file(*[cloudtrail_record() for _ in range(200)], compress=True)
    batch = normalize_blob(data, "big.json.gz", settings=settings)
    assert len(batch.events) == 0
    assert "max_file_bytes" in batch.rejects[0].reason


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_are_preserved_verbatim(text):
    record = cloudtrail_record(userAgent=text, requestParameters={"functionName": text})
    entry = log_entry()
    entry["protoPayload"]["requestMetadata"]["callerSuppliedUserAgent"] = text
    batch = normalize_blob(json_lines(record, entry), "hostile.jsonl")
    assert batch.rejects == []
    assert batch.events["user_agent"].tolist() == [text, text]
    assert batch.events.iloc[0].resource == text
    assert orjson.loads(batch.events.iloc[0].raw)["userAgent"] == text


@pytest.mark.parametrize("bait", ['x"insertId', 'x"protoPayload', 'x"detail-type'])
def test_strings_that_look_like_other_formats_do_not_lose_the_record(bait):
    record = cloudtrail_record(userAgent=bait, requestParameters={"tags": {bait: "v"}})
    data = json_lines(record)
    assert f'"{bait.split(chr(34))[1]}"'.encode() in data  # the substring hint is fooled
    batch = normalize_blob(data, "bait.jsonl")
    assert batch.rejects == []
    assert (batch.events.iloc[0].provider, batch.events.iloc[0].user_agent) == ("aws", bait)


def test_gcp_entry_baited_as_cloudtrail_is_still_read():
    entry = log_entry()
    entry["protoPayload"]["request"] = {'k"eventID': 1}
    entry["protoPayload"]["methodName"] = 'x"eventVersion'
    batch = normalize_blob(json_lines(entry), "bait.jsonl")
    assert batch.rejects == []
    assert batch.events.iloc[0].provider == "gcp"


def test_invalid_utf8_record_is_rejected_and_the_rest_kept():
    good = orjson.dumps(cloudtrail_record())
    bad = orjson.dumps(
        cloudtrail_record(requestParameters={"functionName": "f", "x": "PLACEHOLDER"})
    )
    bad = bad.replace(b"PLACEHOLDER", b"\xff\xfe")
    batch = normalize_blob(good + b"\n" + bad + b"\n", "utf8.jsonl")
    assert len(batch.events) == 1
    assert batch.rejects[0].index == 1
    assert "UTF-8" in batch.rejects[0].reason


def test_not_json_at_all_is_rejected_not_raised():
    batch = normalize_blob(b"\x00\x01binary garbage", "garbage.bin")
    assert len(batch.events) == 0
    assert batch.rejects


def test_line_holding_two_objects_is_rejected_without_shifting_the_others():
    a, b, c = cloudtrail_record(), cloudtrail_record(), cloudtrail_record()
    data = orjson.dumps(a) + b"\n" + orjson.dumps(b) + b"," + orjson.dumps(c) + b"\n"
    batch = normalize_blob(data, "two.jsonl")
    assert batch.events["id"].tolist() == [a["eventID"]]
    assert orjson.loads(batch.events.iloc[0].raw) == a
    assert [r.index for r in batch.rejects] == [1]


def test_invalid_utf8_in_an_envelope_string_is_a_reject_not_an_error():
    data = b'{"detail-type": "AWS API Call via CloudTrail\xff", "detail": {}}'
    batch = normalize_blob(data, "eb.json")
    assert len(batch.events) == 0
    assert batch.rejects
    assert "internal error" not in batch.rejects[0].reason


@pytest.mark.slow
def test_corrupted_and_truncated_golden_files_never_break_the_normalizer():
    import random
    from pathlib import Path

    rng = random.Random(2)
    for path in sorted((Path(__file__).parents[2] / "golden").glob("*.json*")):
        for data in (path.read_bytes(), gzip.compress(path.read_bytes())):
            variants = [data[:cut] for cut in range(0, len(data), max(1, len(data) // 40))]
            for _ in range(60):
                mutated = bytearray(data)
                for _ in range(rng.randrange(1, 5)):
                    mutated[rng.randrange(len(mutated))] = rng.randrange(256)
                variants.append(bytes(mutated))
            for variant in variants:
                batch = normalize_blob(variant, path.name)
                assert not [r for r in batch.rejects if "internal error" in r.reason], variant[:200]


def test_a_record_nested_too_deep_is_a_reject_in_plain_words():
    record = orjson.dumps(cloudtrail_record())[:-1]
    deep = b'{"Records":[' + record + b',"requestParameters":' + b"[" * 100_000
    deep += b"]" * 100_000 + b"}]}"
    batch = normalize_blob(deep, "deep.json")
    [reject] = batch.rejects
    assert reject.reason == "the input nests deeper than the parser allows"


def test_an_internal_failure_is_a_reject_with_a_reference_not_the_exception(monkeypatch, caplog):
    import pipelines.normalize as normalize

    def broken(*args, **kwargs):
        raise KeyError("secret internals")

    monkeypatch.setattr(normalize, "_normalize", broken)
    [reject] = normalize_blob(b"{}", "x.json").rejects
    assert "KeyError" not in reject.reason
    assert "secret internals" not in reject.reason
    ref = reject.reason.split("reference ")[1].split(" ")[0]
    assert ref in caplog.text
    assert "secret internals" in caplog.text
