from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.dropped import DroppedFields
from pipelines.normalize import carried, parallel
from pipelines.rejects import Reject
from pipelines.settings import Settings
from pipelines.sources.local import LocalFile, resolve_paths
from tests.factories import cloudtrail_file, cloudtrail_record, json_lines, log_entry

pytestmark = pytest.mark.skipif(not parallel._can_fork(), reason="forked reading is Linux-only")


def _trail(n: int) -> list[dict[str, object]]:
    return [cloudtrail_record() for _ in range(n)]


def _files(folder: Path) -> list[Path]:
    """Trail files, a Cloud Logging export, and bad input between them: a truncated gzip, a
    malformed line, a mistyped optional field, an id repeated across files."""
    repeated = cloudtrail_record()
    mistyped = cloudtrail_record(requestParameters="not an object")
    contents = {
        "a1.json.gz": cloudtrail_file(repeated, *_trail(30), compress=True),
        "a2.json.gz": cloudtrail_file(*_trail(20), mistyped, compress=True),
        "a3.json.gz": cloudtrail_file(*_trail(1), compress=True)[:40],
        "b1.jsonl": json_lines(*[log_entry() for _ in range(15)]) + b"{not json\n",
        "b2.json.gz": cloudtrail_file(repeated, *_trail(25), compress=True),
        "c1.jsonl": json_lines(*[log_entry() for _ in range(10)]),
    }
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    return resolve_paths([str(folder)])


def _read(files: list[Path], processes: int) -> tuple[pa.Table, DroppedFields, list[Reject]]:
    rejects: list[Reject] = []
    reading = parallel.start_reading(
        files, settings=Settings(), carry=True, processes=processes, min_block_bytes=1
    )
    table, dropped = reading.finish(rejects.append)
    return table, dropped, rejects


def test_forked_reading_gives_exactly_what_one_process_reading_in_order_gives(
    tmp_path: Path, forks: list[object]
):
    files = _files(tmp_path)
    alone = _read(files, processes=1)
    forked = _read(files, processes=3)
    assert len(forks) == 2
    assert forked[0].equals(alone[0])
    assert forked[0].schema == alone[0].schema == carried.empty().schema
    assert forked[1] == alone[1]
    assert forked[1].total == 1
    assert forked[2] == alone[2]
    assert [r.source.rsplit("/", 1)[-1] for r in forked[2]] == ["a3.json.gz", "b1.jsonl"]
    assert forked[0].num_rows == 31 + 21 + 15 + 25 + 10  # the repeated id kept once


def _fails(*args: object) -> tuple[int, int]:
    raise MemoryError("no room for the table")


def _dies(*args: object) -> tuple[int, int]:
    os._exit(9)


@pytest.mark.parametrize(
    ("failure", "said"),
    [(_fails, "MemoryError: no room for the table"), (_dies, "exited with 9")],
    ids=["fails", "is killed"],
)
def test_a_reading_process_that_fails_leaves_its_files_to_this_one(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    forks: list[object],
    failure: Callable[..., tuple[int, int]],
    said: str,
):
    files = _files(tmp_path)
    alone = _read(files, processes=1)
    monkeypatch.setattr(parallel, "_write_ipc", failure)  # only children write tables
    with caplog.at_level(logging.WARNING, logger=parallel.__name__):
        forked = _read(files, processes=2)
    assert forked[0].equals(alone[0])
    assert forked[1:] == alone[1:]
    assert len(forks) == 1
    assert said in caplog.text


def test_an_input_of_nothing_read_is_an_empty_carrying_table(tmp_path: Path, forks: list[object]):
    for name, data in (("a", b""), ("b", b"{"), ("c", b"[]"), ("d", b"{}")):
        (tmp_path / f"{name}.json").write_bytes(data)
    table, dropped, rejects = _read(resolve_paths([str(tmp_path)]), processes=2)
    assert table.num_rows == 0
    assert table.schema == carried.empty().schema
    assert not dropped
    assert len(forks) == 1
    assert [Path(r.source).name for r in rejects] == ["a.json", "b.json", "d.json"]


def _refs(*sizes: int) -> list[LocalFile]:
    return [LocalFile(f"f{i}", f"/f{i}", 1 << 30, size) for i, size in enumerate(sizes)]


def test_blocks_are_contiguous_and_about_equal_in_size():
    refs = _refs(*[10] * 40, *[100] * 4)
    blocks = parallel._blocks(refs, most=8, min_bytes=1)
    assert [ref for block in blocks for ref in block] == refs
    assert len(blocks) == 8
    assert all(90 <= sum(ref.size for ref in block) <= 110 for block in blocks)


def test_a_small_input_is_one_block():
    refs = _refs(3_000_000, 3_000_000)
    assert parallel._blocks(refs, most=16, min_bytes=4 * 1024 * 1024) == [refs]
    assert len(parallel._blocks(refs, most=16, min_bytes=1024 * 1024)) == 2


def test_fewer_than_two_blocks_a_process_are_read_here(tmp_path: Path):
    files = _files(tmp_path)[:3]
    assert not parallel.start_reading(
        files, settings=Settings(), processes=2, min_block_bytes=1
    ).children
    assert parallel.start_reading(files, settings=Settings(), processes=1).children == []


def test_children_take_the_blocks_while_this_process_is_busy(tmp_path: Path, forks: list[object]):
    files = _files(tmp_path)
    alone = _read(files, processes=1)
    reading = parallel.start_reading(
        files, settings=Settings(), carry=True, processes=2, min_block_bytes=1
    )
    assert len(reading.blocks) > 2
    deadline = time.monotonic() + 30
    while reading._next.value < len(reading.blocks) and time.monotonic() < deadline:
        time.sleep(0.01)  # this process's own start-up, say
    assert len(forks) == 1
    assert reading.take() is None  # the child took them all
    rejects: list[Reject] = []
    table, dropped = reading.finish(rejects.append)
    assert table.equals(alone[0])
    assert (dropped, rejects) == alone[1:]


def test_without_proc_mounted_the_files_are_read_here_alone(
    tmp_path: Path, forks: list[object], monkeypatch: pytest.MonkeyPatch
):
    files = _files(tmp_path)
    alone = _read(files, processes=1)
    real_isdir = os.path.isdir
    monkeypatch.setattr(
        parallel.os.path, "isdir", lambda path: path != "/proc/self/fd" and real_isdir(path)
    )
    here = _read(files, processes=3)
    assert forks == []  # no reader forked, so none fails and warns on every run
    assert here[0].equals(alone[0])
    assert here[2] == alone[2]
