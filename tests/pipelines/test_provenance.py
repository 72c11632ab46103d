"""Provenance in the lake: origins kept, a push never hides a pull, conflicts reported.

Review finding H1: the lake kept the first record of an id, so a record pushed with a real
event id before the daily ingest made the real one a dropped duplicate.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.events import EVENT_SCHEMA, events_to_arrow
from pipelines.lake import CONFLICTS_DIR, SMALL_FILES, EventLake
from tests.factories import event, events

PULLED = "s3://trail/AWSLogs/210987654321/CloudTrail/eu-central-1/2026/03/02/f.json.gz"
PUSHED = "push:0b5d2f7e-key"
REAL = {"eventName": "AddPermission20150331v2", "requestParameters": {"principal": "*"}}
HARMLESS = {"eventName": "AddPermission20150331v2", "requestParameters": {"principal": "me"}}


@pytest.fixture
def lake(tmp_path) -> EventLake:
    return EventLake(str(tmp_path / "lake"))


def _table(*rows: dict) -> pa.Table:
    return events_to_arrow(events(*rows))


def test_every_stored_event_keeps_its_origin(lake):
    lake.store(_table(event(id="a", origin=PULLED), event(id="b", origin=PUSHED)))
    stored = lake.read().set_index("id")["origin"].to_dict()
    assert stored == {"a": PULLED, "b": PUSHED}


def test_a_push_first_does_not_hide_the_pulled_record_and_raises_a_conflict(lake, tmp_path):
    fake = event(id="evt-1", origin=PUSHED, raw=HARMLESS)
    real = {**fake, "origin": PULLED, "raw": orjson.dumps(REAL).decode()}
    assert lake.store(_table(fake)).count == 1
    stored = lake.store(_table(real))
    assert stored.count == 1
    [row] = lake.read().to_dict("records")
    assert (row["origin"], orjson.loads(row["raw"])) == (PULLED, REAL)
    [conflict] = stored.conflicts
    assert (conflict.id, conflict.kept["origin"], conflict.other["origin"]) == (
        "evt-1",
        PULLED,
        PUSHED,
    )
    assert orjson.loads(conflict.other["raw"]) == HARMLESS
    [aside] = (tmp_path / "lake" / CONFLICTS_DIR).rglob("*.parquet")
    assert pq.read_table(aside)["origin"].to_pylist() == [PUSHED]


def test_a_push_after_the_pull_is_dropped_and_raises_a_conflict(lake):
    real = event(id="evt-1", origin=PULLED, raw=REAL)
    lake.store(_table(real))
    stored = lake.store(_table({**real, "origin": PUSHED, "raw": orjson.dumps(HARMLESS).decode()}))
    assert (stored.count, stored.duplicates) == (0, 1)
    [conflict] = stored.conflicts
    assert (conflict.kept["origin"], conflict.other["origin"]) == (PULLED, PUSHED)
    assert lake.read()["origin"].tolist() == [PULLED]


def test_the_same_record_pushed_then_pulled_is_stored_once_without_conflict(lake):
    pushed = event(id="evt-1", origin=PUSHED, raw=REAL)
    lake.store(_table(pushed))
    stored = lake.store(_table({**pushed, "origin": PULLED}))
    assert (stored.count, stored.duplicates, stored.conflicts) == (0, 1, [])


def test_one_record_written_two_ways_is_no_conflict(lake):
    """LookupEvents and S3 may write the same event with other key order or spacing."""
    lake.store(_table(event(id="evt-1", origin=PULLED, raw='{"a":1,"b":[1,2]}')))
    again = event(id="evt-1", origin="cloudtrail://eu-central-1", raw='{"b": [1, 2], "a": 1}')
    stored = lake.store(_table(again))
    assert (stored.count, stored.conflicts) == (0, [])


def test_two_pulled_records_with_one_id_keep_the_first_and_raise_a_conflict(lake):
    lake.store(_table(event(id="evt-1", origin=PULLED, raw=REAL)))
    stored = lake.store(_table(event(id="evt-1", origin="other.json", raw=HARMLESS)))
    assert stored.count == 0
    [conflict] = stored.conflicts
    assert (conflict.kept["origin"], conflict.other["origin"]) == (PULLED, "other.json")


def test_in_one_batch_the_pulled_record_wins_over_the_pushed_one(lake):
    fake = event(id="evt-1", origin=PUSHED, raw=HARMLESS)
    real = {**fake, "origin": PULLED, "raw": orjson.dumps(REAL).decode()}
    stored = lake.store(_table(fake, real))
    assert lake.read()["origin"].tolist() == [PULLED]
    [conflict] = stored.conflicts
    assert (conflict.kept["origin"], conflict.other["origin"]) == (PULLED, PUSHED)


def test_a_new_writer_knows_which_stored_ids_were_pushed(lake, tmp_path):
    fake = event(id="evt-1", origin=PUSHED, raw=HARMLESS)
    lake.store(_table(fake))
    later = EventLake(str(tmp_path / "lake"))  # another process: its index comes from files
    stored = later.store(_table({**fake, "origin": PULLED, "raw": orjson.dumps(REAL).decode()}))
    assert stored.count == 1
    assert later.read()["origin"].tolist() == [PULLED]


def test_a_writer_sees_what_another_wrote_since_it_last_looked(tmp_path):
    """The single-writer rule, enforced: each store re-reads the files it has not seen."""
    one, two = EventLake(str(tmp_path / "lake")), EventLake(str(tmp_path / "lake"))
    first, second = event(), event()
    one.store(_table(first))
    two.store(_table(second))  # ``two`` indexes the day now
    third = event()
    one.store(_table(third))
    assert two.store(_table(third)).count == 0
    assert len(two.read()) == 3


def test_a_file_from_before_origins_and_digests_is_read_and_deduplicated(lake, tmp_path):
    old = event(id="old-1", raw=REAL)
    table = _table(old).drop_columns(["provider", "origin"])
    folder = tmp_path / "lake" / "provider=aws" / "date=2026-03-02"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-old.parquet")
    assert lake.read()["origin"].isna().all()
    stored = lake.store(_table({**old, "origin": PULLED}))
    assert (stored.count, stored.conflicts) == (0, [])


def test_small_files_are_merged_once_enough_gathered(lake, tmp_path):
    day = datetime(2026, 3, 2, 10, tzinfo=UTC)
    for _ in range(SMALL_FILES):
        lake.store(_table(event(time=day)))
    folder = tmp_path / "lake" / "provider=aws" / "date=2026-03-02"
    assert len(list(folder.glob("*.parquet"))) == SMALL_FILES
    assert lake.compact_small("aws", day.date())
    assert len(list(folder.glob("*.parquet"))) == 1
    assert len(lake.read()) == SMALL_FILES
    assert lake.store(_table(event(time=day))).count == 1  # the index follows the merge


def test_stored_rows_come_back_in_the_event_schema(lake):
    stored = lake.store(_table(event()))
    assert stored.written.schema == EVENT_SCHEMA
