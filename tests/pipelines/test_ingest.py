"""Ingestion through a runner: blobs fetched and normalized where they run, appended in order."""

from __future__ import annotations

import json
import pickle
import weakref
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.ingest import (
    TASK_BYTES,
    ingest_range,
    ingest_sources,
    normalize_ref,
    task_chunks,
)
from pipelines.lake import EventLake
from pipelines.runner import DaskRunner, LocalRunner, R, T
from pipelines.settings import Settings
from pipelines.source_health import source_health
from pipelines.sources import Blob, blob_refs, open_source
from pipelines.sources.local import LocalFile, LocalSource
from pipelines.sources.s3 import S3Source
from tests.factories import cloudtrail_file, cloudtrail_record
from tests.pipelines.sources.test_s3 import A1, A2, log_key, put_log

START = datetime(2026, 3, 2, tzinfo=UTC)
END = datetime(2026, 3, 3, tzinfo=UTC)


def test_a_blob_is_its_own_reference_so_api_pages_ship_with_their_bytes() -> None:
    blob = Blob("cloudtrail://us-east-1#page0", cloudtrail_file(cloudtrail_record()))
    done = normalize_ref(blob, settings=Settings(), start=START, end=END, clip=True)
    assert done.fetched
    assert done.events.num_rows == 1


def test_local_source_lists_absolute_paths_but_keeps_the_given_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.json").write_bytes(cloudtrail_file(cloudtrail_record()))
    monkeypatch.chdir(tmp_path)
    [ref] = list(blob_refs(LocalSource(["logs"]), START, END))
    assert isinstance(ref, LocalFile)
    assert ref.name == str(Path("logs") / "a.json")
    assert ref.path == str(tmp_path / "logs" / "a.json")


def test_a_file_over_the_limit_is_rejected_where_it_is_fetched_and_not_marked_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(cloudtrail_file(cloudtrail_record()))
    ref = LocalFile(str(path), str(path), max_bytes=10)
    done = normalize_ref(ref, settings=Settings(), start=START, end=END, clip=True)
    assert not done.fetched
    assert done.events.num_rows == 0
    [reject] = done.rejects
    assert reject.source == str(path)
    assert "max_file_bytes=10" in reject.reason


def test_a_listed_file_missing_where_it_is_read_is_an_error_not_a_reject(tmp_path: Path) -> None:
    """A worker that does not mount the input must fail the source, not reject a whole day."""
    path = tmp_path / "gone.json"
    ref = LocalFile(str(path), str(path), max_bytes=10**6)
    with pytest.raises(FileNotFoundError, match="shared folder"):
        normalize_ref(ref, settings=Settings(), start=START, end=END, clip=True)


def test_tasks_group_blobs_by_count_and_stored_bytes_in_order() -> None:
    refs = [Blob(f"b{n}", b"x" * size) for n, size in enumerate([3, 3, 3, 9, 1, 1, 1])]
    chunks = task_chunks(refs, blobs=3, size=8)
    assert [[ref.name for ref in chunk] for chunk in chunks] == [
        ["b0", "b1"],  # a third would pass 8 bytes
        ["b2"],
        ["b3"],  # larger than the budget alone: still one task
        ["b4", "b5", "b6"],
    ]


def test_local_runner_takes_items_lazily_one_at_a_time() -> None:
    drawn: list[int] = []

    def items() -> Iterator[int]:
        for n in range(3):
            drawn.append(n)
            yield n

    results = LocalRunner().map(lambda n: n * 10, items())
    assert next(results) == (0, 0)
    assert drawn == [0]
    assert list(results) == [(1, 10), (2, 20)]


class _WatchingRunner(LocalRunner):
    """The local runner, noting how many earlier results are still alive when it makes the
    next one: the driver must not hold a whole chunk while the next is being normalized."""

    def __init__(self) -> None:
        self.made: list[weakref.ref[object]] = []
        self.alive_at_next: list[int] = []

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[int, R]]:
        for index, item in enumerate(items):
            self.alive_at_next.append(sum(ref() is not None for ref in self.made))
            result = fn(item)
            self.made.append(weakref.ref(result))
            yield index, result
            del result


def test_the_driver_lets_go_of_a_chunk_before_the_next_is_normalized(tmp_path: Path) -> None:
    for n in range(3):  # each file over a task's byte budget: one task per file
        record = cloudtrail_record(eventTime="2026-03-02T10:00:00Z")
        (tmp_path / f"{n}.json").write_bytes(cloudtrail_file(record) + b" " * TASK_BYTES)
    settings = Settings(home=tmp_path / "home")
    runner = _WatchingRunner()
    tally = ingest_range(
        [str(tmp_path / "*.json")], EventLake(settings.lake_root), settings, START, END,
        runner=runner,
    )  # fmt: skip
    assert tally.new == 3
    assert runner.alive_at_next == [0, 0, 0]


@pytest.mark.integration
def test_dask_runner_yields_in_submission_order_with_a_bounded_window(dask_scheduler: str) -> None:
    runner = DaskRunner(dask_scheduler, ahead=2)
    try:
        results = list(runner.map(_slow_square, [3, 0, 2, 1, 0]))
    finally:
        runner.close()
    assert results == [(0, 9), (1, 0), (2, 4), (3, 1), (4, 0)]


@pytest.mark.integration
def test_a_failing_task_raises_in_the_driver(dask_scheduler: str) -> None:
    runner = DaskRunner(dask_scheduler)
    try:
        with pytest.raises(ZeroDivisionError):
            list(runner.map(_inverse, [1, 0, 2]))
    finally:
        runner.close()


@pytest.mark.integration
def test_s3_reference_pickles_without_its_client_and_reads_with_its_own(
    settings: Settings, s3_bucket, moto_endpoint: str
) -> None:
    client, bucket = s3_bucket
    key = log_key(A1, "us-east-1", "2026/03/02", "0100")
    put_log(client, bucket, key)
    source = S3Source(f"s3://{bucket}/audit", settings, client=client, endpoint_url=moto_endpoint)
    [ref] = list(source.refs(START, END))
    shipped = pickle.loads(pickle.dumps(ref))  # noqa: S301 - what Dask does to it, our own bytes
    assert shipped.client is None
    assert shipped.fetch() == ref.fetch()


@pytest.mark.integration
def test_s3_day_ingested_on_dask_gives_the_local_lake_and_checkpoint(
    tmp_path: Path, s3_bucket, moto_endpoint: str, dask_scheduler: str
) -> None:
    client, bucket = s3_bucket
    for n, account in enumerate([A1, A1, A2, A2, A1]):
        records = [cloudtrail_record(eventTime=f"2026-03-02T0{n}:0{i}:00Z") for i in range(5)]
        put_log(client, bucket, log_key(account, "us-east-1", "2026/03/02", f"0{n}00"), *records)
    uri = f"s3://{bucket}/audit?endpoint={moto_endpoint}"

    def run(home: Path, runner: DaskRunner | None) -> tuple[list[str], dict[str, object], int]:
        settings = Settings(home=home)
        lake = EventLake(settings.lake_root)
        tally = ingest_range([uri], lake, settings, START, END, runner=runner)
        assert not tally.failed
        checkpoint = open_source(uri, settings)
        assert isinstance(checkpoint, S3Source)
        saved = json.loads(json.dumps(checkpoint.checkpoint.state))
        return sorted(lake.read(START, END)["id"]), saved, tally.new

    local = run(tmp_path / "local", None)
    runner = DaskRunner(dask_scheduler)
    try:
        remote = run(tmp_path / "dask", runner)
    finally:
        runner.close()
    assert local[2] == 25
    assert remote == local


def _slow_square(n: int) -> int:
    import time

    time.sleep(n / 20)  # later items finish first: the order must still hold
    return n * n


def _inverse(n: int) -> float:
    return 1 / n


def test_a_days_last_events_delivered_after_midnight_are_ingested_with_their_day(
    tmp_path: Path, s3_bucket, moto_endpoint: str
) -> None:
    client, bucket = s3_bucket
    evening = cloudtrail_record(eventTime="2026-03-02T23:58:00Z")
    morning = cloudtrail_record(eventTime="2026-03-03T00:03:00Z")
    put_log(client, bucket, log_key(A1, "us-east-1", "2026/03/03", "0008"), evening, morning)
    uri = f"s3://{bucket}/audit?endpoint={moto_endpoint}"
    settings = Settings(home=tmp_path)
    lake = EventLake(settings.lake_root)

    first = ingest_range([uri], lake, settings, START, END)
    next_day = ingest_range([uri], lake, settings, END, END + (END - START))

    assert (first.new, next_day.new) == (1, 1)
    assert list(lake.read(START, END)["id"]) == [evening["eventID"]]
    assert list(lake.read(END, END + (END - START))["id"]) == [morning["eventID"]]


def test_each_ingest_records_whether_a_source_failed_and_a_success_clears_the_count(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path / "home")
    lake = EventLake(str(tmp_path / "lake"))
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.json").write_bytes(cloudtrail_file(cloudtrail_record()))
    missing, good = str(tmp_path / "not-mounted"), str(logs)
    for _ in range(2):
        ingest_sources([LocalSource([missing]), LocalSource([good])], lake, settings, START, END)
    health = {h.uri: h for h in source_health(settings)}
    assert health[missing].failures == 2
    assert (health[missing].last_error or "").startswith("PathNotFound: no such file")
    assert health[missing].last_success is None
    assert health[good].failures == 0
    assert health[good].last_success is not None
    (tmp_path / "not-mounted").mkdir()
    ingest_sources([LocalSource([missing])], lake, settings, START, END)
    assert {h.uri: h for h in source_health(settings)}[missing].failures == 0
