"""POST /v1/events: any input format in, counts and rejects out, events in the lake."""

from __future__ import annotations

import gzip

import orjson

from pipelines.lake import EventLake
from tests.factories import cloudtrail_file, cloudtrail_record, json_lines, log_entry
from tests.service.api.conftest import assert_problem


def test_cloudtrail_file_lands_in_the_lake(api):
    records = [cloudtrail_record(), cloudtrail_record()]
    response = api.client.post(
        "/v1/events", content=cloudtrail_file(*records), headers=api.headers("ingest")
    )
    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "queued": 2, "rejected": 0, "rejects": []}
    assert api.drain() == 2
    stored = EventLake(api.settings.lake_root).get([r["eventID"] for r in records])
    assert len(stored) == 2


def test_gzip_log_entries_and_repeats_are_deduplicated(api):
    body = gzip.compress(json_lines(log_entry(), log_entry()))
    h = api.headers("ingest")
    assert api.client.post("/v1/events", content=body, headers=h).json()["queued"] == 2
    again = api.client.post("/v1/events", content=body, headers=h).json()
    assert (again["accepted"], again["queued"]) == (2, 2)
    api.drain()
    assert len(EventLake(api.settings.lake_root).read()) == 2  # the repeats were dropped


def test_bad_records_are_rejected_and_the_rest_kept(api):
    good = cloudtrail_record()
    bad = cloudtrail_record(eventTime="not a time")
    body = orjson.dumps({"Records": [good, bad]})
    result = api.client.post("/v1/events", content=body, headers=api.headers("ingest")).json()
    assert (result["accepted"], result["rejected"]) == (1, 1)
    [reject] = result["rejects"]
    assert reject["source"].startswith("push:")
    assert reject["index"] == 1
    assert "time" in reject["reason"]


def test_empty_body_is_422(api):
    response = api.client.post("/v1/events", content=b"", headers=api.headers("ingest"))
    assert response.status_code == 422


def test_a_gzip_bomb_push_is_413_and_nothing_is_stored(api):
    from tests.factories import gzip_bomb

    api.state.settings.max_push_bytes = 1024 * 1024
    body = gzip_bomb(8 * 1024 * 1024)
    assert len(body) < 64 * 1024  # inside the body limit: only inflating finds it
    response = api.client.post("/v1/events", content=body, headers=api.headers("ingest"))
    problem = assert_problem(response, 413)
    assert problem["detail"] == "the body decompresses to over max_push_bytes=1048576 bytes"
    api.drain()
    assert EventLake(api.settings.lake_root).read().empty


def test_a_push_inflating_within_the_limit_is_taken(api):
    records = [cloudtrail_record(userAgent="x" * 2000) for _ in range(400)]
    body = gzip.compress(cloudtrail_file(*records))
    api.state.settings.max_push_bytes = 2 * 1024 * 1024
    result = api.client.post("/v1/events", content=body, headers=api.headers("ingest")).json()
    assert result["accepted"] == 400


def test_a_push_neither_reads_nor_writes_the_lake(fresh_database, monkeypatch):
    """Review finding M2: each push built a lake, read every id of the day and wrote a file,
    so pushes slowed as the day grew. Now a push only appends to the log (the writer, not
    running here, stores later), whatever the day already holds."""
    from pipelines.lake import EventLake as Lake
    from service.api.limits import ApiLimits
    from tests.service.api.conftest import make_api

    limits = ApiLimits(max_body_bytes=10 * 1024 * 1024, rate_per_second=1000, burst=1000)
    api = make_api(fresh_database, limits)  # no lifespan: no push-log writer thread
    day = [cloudtrail_record() for _ in range(2000)]
    assert (
        api.client.post(
            "/v1/events", content=cloudtrail_file(*day), headers=api.headers("ingest")
        ).json()["queued"]
        == 2000
    )
    assert api.drain() == 2000  # a full day's worth already stored

    touched: list[str] = []
    for name in ("store", "read", "_index", "dataset"):
        real = getattr(Lake, name)
        monkeypatch.setattr(Lake, name, lambda *a, _n=name, _r=real, **k: touched.append(_n))
    pushed = api.client.post(
        "/v1/events", content=cloudtrail_file(cloudtrail_record()), headers=api.headers("ingest")
    )
    assert pushed.json()["queued"] == 1
    assert touched == []
    api.state.audit.close()  # its two rows written before the database is dropped
