"""The push log: durable before acknowledged, drained whole frames only, segments let go."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines import pushlog as pushlog_module
from pipelines.events import events_to_arrow
from pipelines.pushlog import PushLog
from pipelines.writer import LakeWriter, WriterLease, drain_once
from tests.factories import event, events


def _one(**fields) -> pa.Table:
    return events_to_arrow(events(event(**fields)))


def test_appended_records_come_back_once_and_their_segment_goes(tmp_path):
    log = PushLog(tmp_path / "log")
    log.append(_one(id="a"))
    log.append(_one(id="b"))
    log.close()
    pending = log.pending()
    assert pending is not None
    assert pending.events["id"].to_pylist() == ["a", "b"]
    log.commit(pending)
    assert log.pending() is None
    assert list((tmp_path / "log").glob("seg-*")) == []


def test_a_live_segment_is_drained_up_to_its_last_frame_and_kept(tmp_path):
    writer, reader = PushLog(tmp_path / "log"), PushLog(tmp_path / "log")
    writer.append(_one(id="a"))
    first = reader.pending()
    assert first is not None
    assert first.finished == []  # its process still appends to it
    reader.commit(first)
    writer.append(_one(id="b"))
    second = reader.pending()
    assert second is not None
    assert second.events["id"].to_pylist() == ["b"]
    reader.commit(second)
    writer.close()
    last = reader.pending()
    assert last is not None
    assert (last.rows, len(last.finished)) == (0, 1)


def test_the_acknowledgement_waits_for_the_fsync(tmp_path, monkeypatch):
    """Review finding L6: a pushed record was acknowledged before its file was fsynced."""
    release, entered = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        if "/seg-" in os.readlink(f"/proc/self/fd/{fd}"):
            entered.set()
            release.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(pushlog_module.os, "fsync", slow_fsync)
    log = PushLog(tmp_path / "log")
    done = log.submit(_one())
    assert entered.wait(10)
    assert not done.done()  # written, not yet on disk: not acknowledged
    release.set()
    done.result(10)
    log.close()


def test_pushes_that_arrive_during_an_fsync_share_the_next_one(tmp_path, monkeypatch):
    calls: list[int] = []
    queued = threading.Event()
    real_fsync = os.fsync

    def counted(fd: int) -> None:
        if "/seg-" in os.readlink(f"/proc/self/fd/{fd}"):
            calls.append(fd)
            queued.wait(10)  # the disk is slow: the other pushes arrive meanwhile
        real_fsync(fd)

    monkeypatch.setattr(pushlog_module.os, "fsync", counted)
    log = PushLog(tmp_path / "log")
    futures = [log.submit(_one())]
    futures += [log.submit(_one()) for _ in range(199)]
    queued.set()
    for future in futures:
        future.result(10)
    log.close()
    assert len(calls) == 2  # the first push alone, then the 199 that waited, together


def test_full_segments_are_closed_and_deleted_once_drained(tmp_path):
    log = PushLog(tmp_path / "log", segment_bytes=1)  # every write closes its segment
    for name in "abc":
        log.append(_one(id=name))
    pending = log.pending()
    assert pending is not None
    assert pending.events["id"].to_pylist() == ["a", "b", "c"]
    assert len(pending.finished) == 3
    log.commit(pending)
    assert list((tmp_path / "log").glob("seg-*")) == []


def _append_forever(folder: str, acked) -> None:
    log = PushLog(Path(folder))
    n = 0
    while True:
        log.append(_one(id=f"r{n}"))
        n += 1
        acked.value = n


def test_after_a_kill_9_every_acknowledged_record_is_there_and_no_torn_one(tmp_path):
    context = multiprocessing.get_context("spawn")
    acked = context.Value("i", 0)
    child = context.Process(target=_append_forever, args=(str(tmp_path / "log"), acked))
    child.start()
    while acked.value < 200:
        pass
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    known = acked.value
    pending = PushLog(tmp_path / "log").pending(max_rows=10**9)
    assert pending is not None
    ids = pending.events["id"].to_pylist()
    assert ids[:known] == [f"r{n}" for n in range(known)]  # all acknowledged, in order
    assert len(ids) <= known + 1  # at most the one written but not yet acknowledged
    assert pending.finished  # the dead process's segment ends at its last whole frame


def test_a_torn_frame_ends_a_dead_segment(tmp_path):
    log = PushLog(tmp_path / "log")
    log.append(_one(id="whole"))
    log.close()
    [segment] = (tmp_path / "log").glob("seg-*")
    with segment.open("ab") as out:
        out.write(pushlog_module.encode_frame(_one(id="torn"))[:-5])
    pending = log.pending()
    assert pending is not None
    assert pending.events["id"].to_pylist() == ["whole"]


def test_one_writer_lease_per_data_folder(tmp_path):
    first, second = WriterLease(tmp_path), WriterLease(tmp_path)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_drain_once_stores_then_hands_on_then_lets_go(tmp_path, settings):
    log = PushLog(tmp_path / "log")
    log.append(_one(id="x"))
    seen = []

    def on_stored(stored, pending):
        seen.append((stored.count, log.pending() is not None))  # not let go of yet

    writer = LakeWriter(settings)
    assert drain_once(log, writer, on_stored) is not None
    assert seen == [(1, True)]
    assert drain_once(log, writer, on_stored) is None
    assert writer.lake.read()["id"].tolist() == ["x"]


def test_a_failed_store_leaves_the_records_in_the_log(tmp_path, settings, monkeypatch):
    log = PushLog(tmp_path / "log")
    log.append(_one(id="x"))
    writer = LakeWriter(settings)

    def broken(_events):
        raise OSError("disk full")

    monkeypatch.setattr(writer.lake, "store", broken)
    with pytest.raises(OSError, match="disk full"):
        drain_once(log, writer)
    pending = log.pending()
    assert pending is not None
    assert pending.events["id"].to_pylist() == ["x"]
