from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.rejects import Reject
from pipelines.settings import Settings
from pipelines.sources.local import LocalSource, PathNotFound, iter_local_blobs, resolve_paths
from tests.factories import cloudtrail_file, cloudtrail_record


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.json").write_bytes(cloudtrail_file(cloudtrail_record()))
    (tmp_path / "a" / "b" / "two.json.gz").write_bytes(
        cloudtrail_file(cloudtrail_record(), compress=True)
    )
    (tmp_path / "a" / ".hidden").write_bytes(b"x")
    return tmp_path


def test_folders_are_read_recursively_in_sorted_order(tree):
    assert [p.name for p in resolve_paths([str(tree / "a")])] == ["two.json.gz", "one.json"]


def test_globs_and_files_are_resolved_once_each(tree):
    paths = resolve_paths([str(tree / "a" / "**" / "*.gz"), str(tree / "a" / "b" / "two.json.gz")])
    assert [p.name for p in paths] == ["two.json.gz"]


def test_missing_path_fails_before_reading_anything(tree):
    with pytest.raises(PathNotFound, match="nope"):
        resolve_paths([str(tree / "a"), str(tree / "nope")])
    with pytest.raises(PathNotFound, match="no file matches"):
        resolve_paths([str(tree / "*.nothing")])


def test_file_over_the_size_limit_is_a_reject_and_the_rest_go_on(tree, settings):
    (tree / "a" / "big.json").write_bytes(b" " * 5000)
    rejects: list[Reject] = []
    small = Settings(home=settings.home, max_file_bytes=4000)
    blobs = list(iter_local_blobs([str(tree / "a")], settings=small, on_reject=rejects.append))
    assert len(blobs) == 2
    [reject] = rejects
    assert reject.source.endswith("big.json")
    assert "max_file_bytes" in reject.reason


def test_local_source_filters_time_after_normalizing(tmp_path, settings):
    records = [
        cloudtrail_record(eventTime=t) for t in ("2026-03-01T23:59:59Z", "2026-03-02T00:00:00Z")
    ]
    (tmp_path / "day.json").write_bytes(cloudtrail_file(*records))
    source = LocalSource([str(tmp_path)], settings=settings)
    day = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    assert [blob.name for blob in source.blobs(*day)] == [str(tmp_path / "day.json")]
    [batch] = list(source.batches(*day))
    assert batch.events["id"].tolist() == [records[1]["eventID"]]
