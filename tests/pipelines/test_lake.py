from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from pipelines.events import EVENT_COLUMNS, EVENT_SCHEMA, events_to_arrow
from pipelines.lake import EventLake
from pipelines.lake_files import ROW_GROUP_ROWS
from pipelines.lake_index import IdIndex, _merge_runs
from tests.factories import event, events

MARCH_2 = datetime(2026, 3, 2, 10, tzinfo=UTC)
MARCH_3 = datetime(2026, 3, 3, 1, tzinfo=UTC)


@pytest.fixture
def lake(tmp_path) -> EventLake:
    return EventLake(str(tmp_path / "lake"))


def parquet_files(root) -> list:
    return sorted(p for p in root.rglob("*.parquet") if not p.name.startswith("."))


def test_append_counts_new_events_and_a_second_append_stores_none(lake):
    batch = events(event(), event(), event())
    assert lake.append(batch) == 3
    assert lake.append(batch) == 0
    assert len(lake.read()) == 3


def test_repeated_id_within_one_batch_is_stored_once(lake):
    first = event(principal="first")
    batch = events(first, {**first, "principal": "second"})
    assert lake.append(batch) == 1
    assert lake.read()["principal"].tolist() == ["first"]


def test_only_the_unknown_events_of_a_partly_known_batch_are_written(lake):
    known, fresh = event(), event()
    lake.append(events(known))
    assert lake.append(events(known, fresh)) == 1
    assert sorted(lake.read()["id"]) == sorted([known["id"], fresh["id"]])


def test_same_id_from_another_provider_is_another_event(lake):
    lake.append(events(event(id="shared", provider="aws")))
    assert lake.append(events(event(id="shared", provider="gcp"))) == 1


def test_files_are_zstd_parquet_in_hive_provider_and_date_folders(lake, tmp_path):
    lake.append(events(event(time=MARCH_2), event(time=MARCH_3, provider="gcp")))
    files = parquet_files(tmp_path / "lake")
    folders = sorted(str(f.parent.relative_to(tmp_path / "lake")) for f in files)
    assert folders == ["provider=aws/date=2026-03-02", "provider=gcp/date=2026-03-03"]
    meta = pq.ParquetFile(files[0]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert all(f.name.startswith("part-") for f in files)


def test_days_lists_partitions(lake):
    lake.append(events(event(time=MARCH_2), event(time=MARCH_3), event(provider="gcp")))
    assert lake.days() == [
        ("aws", date(2026, 3, 2)),
        ("aws", date(2026, 3, 3)),
        ("gcp", date(2026, 3, 2)),
    ]


def test_read_back_equals_what_was_appended_with_the_event_schema(lake):
    batch = events(event(mfa=True, raw={"eventName": "x"}), event(session="s-1", read_only=False))
    lake.append(batch)
    back = lake.read()
    assert list(back.columns) == list(EVENT_COLUMNS)
    assert events_to_arrow(back).equals(events_to_arrow(batch))
    assert events_to_arrow(back).schema == EVENT_SCHEMA


def test_read_time_range_is_start_inclusive_end_exclusive(lake):
    early = event(time=datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC))
    midnight = event(time=datetime(2026, 3, 3, tzinfo=UTC))
    later = event(time=datetime(2026, 3, 3, 12, tzinfo=UTC))
    lake.append(events(early, midnight, later))
    got = lake.read(datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 3, 12, tzinfo=UTC))
    assert got["id"].tolist() == [midnight["id"]]
    assert lake.read(end=datetime(2026, 3, 3, tzinfo=UTC))["id"].tolist() == [early["id"]]


def test_naive_read_bounds_are_utc(lake):
    one = event(time=datetime(2026, 3, 2, 10, tzinfo=UTC))
    lake.append(events(one))
    assert len(lake.read(datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 11))) == 1


def test_read_by_provider_and_projected_columns(lake):
    lake.append(events(event(provider="aws"), event(provider="gcp", principal="kim")))
    got = lake.read(providers=["gcp"], columns=["principal"])
    assert list(got.columns) == ["id", "time", "provider", "principal"]
    assert got["principal"].tolist() == ["kim"]


def test_read_of_an_unknown_column_is_refused(lake):
    with pytest.raises(ValueError, match="unknown event column"):
        lake.read(columns=["password"])


def test_get_returns_the_events_with_these_ids(lake):
    wanted, other = event(time=MARCH_2), event(time=MARCH_3)
    lake.append(events(wanted, other))
    got = lake.get([wanted["id"], "no-such-id"])
    assert got["id"].tolist() == [wanted["id"]]
    assert lake.get([other["id"]], start=MARCH_3)["id"].tolist() == [other["id"]]


def test_empty_or_missing_lake_reads_as_empty_batches(lake):
    assert list(lake.read().columns) == list(EVENT_COLUMNS)
    assert len(lake.read()) == 0
    assert len(lake.get(["x"])) == 0
    assert lake.days() == []
    assert lake.append(events()) == 0


def test_half_written_temp_file_is_invisible_to_readers(lake, tmp_path):
    lake.append(events(event(time=MARCH_2)))
    partition = tmp_path / "lake" / "provider=aws" / "date=2026-03-02"
    (partition / ".0123abcd.tmp").write_bytes(b"PAR1 truncated by a kill")
    assert len(lake.read()) == 1
    assert lake.append(events(event(time=MARCH_2))) == 1


def test_compact_leaves_one_file_per_partition_and_the_same_events(lake, tmp_path):
    for _ in range(3):
        lake.append(events(event(time=MARCH_2), event(time=MARCH_3)))
    before = lake.read()
    assert len(parquet_files(tmp_path / "lake")) == 6
    assert lake.compact() == 2
    assert len(parquet_files(tmp_path / "lake")) == 2
    pd.testing.assert_frame_equal(lake.read(), before)


def test_duplicates_left_by_an_interrupted_compaction_are_read_once(lake, tmp_path):
    one = event(time=MARCH_2)
    lake.append(events(one))
    [part] = parquet_files(tmp_path / "lake")
    (part.parent / "part-copy.parquet").write_bytes(part.read_bytes())
    assert lake.read()["id"].tolist() == [one["id"]]


def test_a_frame_without_the_event_columns_is_refused(lake):
    with pytest.raises(ValueError, match="not an event batch"):
        lake.append(pd.DataFrame({"id": ["a"]}))


@pytest.mark.integration
def test_s3_lake_on_moto_appends_dedups_and_reads_by_range(s3_bucket, moto_endpoint):
    client, bucket = s3_bucket
    host_port = moto_endpoint.removeprefix("http://")
    fs = pafs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        endpoint_override=host_port,
        scheme="http",
        region="us-east-1",
    )
    lake = EventLake(f"{bucket}/lake", filesystem=fs)
    batch = events(event(time=MARCH_2), event(time=MARCH_3), event(provider="gcp"))
    assert lake.append(batch) == 3
    assert lake.append(batch) == 0
    listed = client.list_objects_v2(Bucket=bucket)["Contents"]
    keys = [o["Key"] for o in listed if o["Key"].endswith(".parquet")]
    assert all(k.startswith(("lake/provider=aws/date=", "lake/provider=gcp/date=")) for k in keys)
    assert len(keys) == 3
    assert len(lake.read(MARCH_3)) == 1
    assert lake.days()[0] == ("aws", date(2026, 3, 2))
    lake.append(events(event(time=MARCH_2)))
    assert lake.compact() == 1
    assert len(lake.read()) == 4


def test_append_table_takes_normalizer_arrow_output(lake):
    table = events_to_arrow(events(event(), event()))
    assert lake.append_table(table) == 2
    assert lake.append_table(table) == 0


def test_a_second_lake_object_sees_what_the_first_wrote(tmp_path):
    one = event()
    EventLake(str(tmp_path / "lake")).append(events(one))
    assert EventLake(str(tmp_path / "lake")).append(events(one)) == 0


def test_id_index_knows_every_added_id_across_merged_runs_and_no_other() -> None:
    index = IdIndex()
    batches = [pa.array([f"id-{b}-{i}" for i in range(50)]) for b in range(9)]
    for batch in batches:
        index.add(IdIndex.hashes(batch))
    assert len(index) == 450
    assert index.contains(IdIndex.hashes(pa.concat_arrays(batches))).all()
    assert not index.contains(IdIndex.hashes(pa.array(["id-9-0", "id-0-50", ""]))).any()


def test_id_index_needs_both_hashes_to_match() -> None:
    index = IdIndex()
    first = np.array([5, 5, 9], dtype=np.uint64)  # 5 twice: a first-hash collision in the run
    index.add((first, np.array([1, 2, 3], dtype=np.uint64)))
    probe = (np.array([5, 5, 5, 9], dtype=np.uint64), np.array([2, 1, 7, 4], dtype=np.uint64))
    assert index.contains(probe).tolist() == [True, True, False, False]


def test_a_new_lake_object_knows_the_ids_already_on_disk(lake, tmp_path) -> None:
    known = [event(), event()]
    lake.append(events(*known))
    again = EventLake(str(tmp_path / "lake"))
    assert again.append(events(*known, event())) == 1


def test_files_are_sorted_by_account_principal_time_in_small_row_groups(lake, tmp_path) -> None:
    rows = [
        event(account="b", principal="p1", time=MARCH_2),
        event(account="a", principal="p2", time=MARCH_2),
        event(account="a", principal="p1", time=MARCH_2.replace(hour=12)),
        event(account="a", principal="p1", time=MARCH_2.replace(hour=11)),
    ]
    lake.append(events(*rows))
    (path,) = parquet_files(tmp_path / "lake")
    stored = pq.read_table(path, columns=["account", "principal", "time"]).to_pylist()
    keys = [(r["account"], r["principal"], r["time"]) for r in stored]
    assert keys == sorted(keys)
    assert pq.ParquetFile(path).metadata.row_group(0).num_rows <= ROW_GROUP_ROWS
    assert lake.read()["time"].is_monotonic_increasing


def test_merging_two_id_runs_keeps_every_pair_sorted_by_first_hash() -> None:
    first_a = np.array([1, 4, 4, 9], dtype=np.uint64)
    first_b = np.array([0, 4, 10], dtype=np.uint64)
    second_a = np.array([11, 12, 13, 14], dtype=np.uint64)
    second_b = np.array([20, 21, 22], dtype=np.uint64)
    digest_a = second_a + 100
    digest_b = second_b + 100
    merged = _merge_runs((first_a, second_a, digest_a), (first_b, second_b, digest_b))
    assert merged[0].tolist() == [0, 1, 4, 4, 4, 9, 10]
    assert merged[1].tolist() == [20, 11, 12, 13, 21, 14, 22]
    assert (merged[2] == merged[1] + 100).all()  # each digest stays with its id


def test_id_runs_stop_merging_at_the_cap_and_still_know_every_id(monkeypatch) -> None:
    """A merge holds both runs and the result: capped runs bound that moment's memory."""
    import pipelines.lake_index as index_module

    monkeypatch.setattr(index_module, "MAX_RUN", 100)
    index = IdIndex()
    batches = [pa.array([f"id-{b}-{i}" for i in range(30)]) for b in range(20)]
    for batch in batches:
        index.add(IdIndex.hashes(batch))
    assert max(len(run[0]) for run in index._runs) <= 100
    assert len(index) == 600
    assert index.contains(IdIndex.hashes(pa.concat_arrays(batches))).all()
    assert not index.contains(IdIndex.hashes(pa.array(["id-20-0", "id-0-30"]))).any()


def test_a_first_hash_collision_is_told_apart_in_a_batch_probed_out_of_order() -> None:
    index = IdIndex()
    index.add((np.array([7, 3, 7, 1], np.uint64), np.array([70, 30, 71, 10], np.uint64)))
    probe = (np.array([7, 1, 7, 7, 3], np.uint64), np.array([71, 10, 72, 70, 31], np.uint64))
    assert index.contains(probe).tolist() == [True, True, False, True, False]


_POOL = pa.proxy_memory_pool(pa.default_memory_pool())
"""Counts what Arrow allocates while a test makes it the default; lives as long as the
module, so no buffer outlives the pool it came from."""


def test_append_writes_a_batch_of_many_chunks_without_a_whole_sorted_copy(lake) -> None:
    """The batch is sorted into row groups one group at a time: Arrow's peak while appending
    stays a fraction of the batch (``sort_by``, or ``take`` on a chunked table, copies it)."""
    rng = np.random.default_rng(0)
    rows = [
        event(
            account=f"a{rng.integers(3)}",
            principal=f"p{rng.integers(5)}",
            raw="x" * 600,
            time=MARCH_2,  # one partition, wherever the factories' clock stands (a batch across
            # midnight is filtered into two copies, which is not what this measures)
        )
        for _ in range(6000)
    ]
    one = events_to_arrow(events(*rows))
    chunks = []
    for n in range(12):  # the flush of many blobs: a chunked table
        ids = pa.array([f"{n}-{i}" for i in range(one.num_rows)], pa.string())
        chunks.append(one.set_column(0, "id", ids))
    batch = pa.concat_tables(chunks)
    before = _POOL.max_memory()
    previous = pa.default_memory_pool()
    pa.set_memory_pool(_POOL)
    try:
        assert lake.append_table(batch) == batch.num_rows
    finally:
        pa.set_memory_pool(previous)
    assert _POOL.max_memory() - before < batch.nbytes / 2
    assert len(lake.read(columns=["account"])) == batch.num_rows


def test_providers_and_files_list_what_the_lake_holds(lake):
    assert lake.providers() == []
    lake.append(events(event(time=MARCH_2), event(time=MARCH_3, provider="gcp")))
    assert lake.providers() == ["aws", "gcp"]
    [path] = lake.files("aws", MARCH_2.date())
    assert path.endswith(".parquet")
    assert "provider=aws/date=2026-03-02" in path
    assert lake.files("aws", MARCH_3.date()) == []
    assert lake.files("azure", MARCH_2.date()) == []
