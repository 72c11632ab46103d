"""lifelong(): no collection inside, what exists frozen after, collection back as it was."""

from __future__ import annotations

import gc

import pytest

from pipelines.lifelong import lifelong


@pytest.fixture(autouse=True)
def _restore_gc():
    collecting = gc.isenabled()
    yield
    gc.unfreeze()
    if collecting:
        gc.enable()
    else:
        gc.disable()


def test_pauses_collection_then_freezes_and_resumes():
    gc.enable()
    gc.unfreeze()
    with lifelong():
        assert not gc.isenabled()
        kept: list[list[int]] = [[] for _ in range(100)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(kept)


def test_leaves_collection_off_when_it_was_off():
    gc.disable()
    with lifelong():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_resumes_collection_when_the_body_raises():
    gc.enable()
    with pytest.raises(RuntimeError), lifelong():
        raise RuntimeError("boom")
    assert gc.isenabled()
