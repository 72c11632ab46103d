from __future__ import annotations

import pytest

from pipelines.checkpoints import Checkpoint, CheckpointError, checkpoint_name


def test_saved_state_is_read_back_by_the_next_run(tmp_path):
    first = Checkpoint(tmp_path, "s3://bucket/audit")
    first.state["days"] = {"a/2026/03/02/": ["f1.json.gz"]}
    first.save()
    assert Checkpoint(tmp_path, "s3://bucket/audit").state == first.state


def test_ignore_saved_starts_empty_but_saves_anew(tmp_path):
    saved = Checkpoint(tmp_path, "cloudtrail://eu-central-1")
    saved.state["done_until"] = "2026-03-02T00:00:00+00:00"
    saved.save()
    fresh = Checkpoint(tmp_path, "cloudtrail://eu-central-1", ignore_saved=True)
    assert fresh.state == {}
    fresh.state["done_until"] = "2026-03-01T00:00:00+00:00"
    fresh.save()
    assert Checkpoint(tmp_path, "cloudtrail://eu-central-1").state == fresh.state


def test_save_leaves_no_temporary_files(tmp_path):
    checkpoint = Checkpoint(tmp_path, "gcp-logging://p")
    for n in range(3):
        checkpoint.state["n"] = n
        checkpoint.save()
    assert [p.name for p in tmp_path.iterdir()] == [checkpoint.path.name]


def test_unreadable_checkpoint_is_an_error_not_a_silent_restart(tmp_path):
    checkpoint = Checkpoint(tmp_path, "gcp-logging://p")
    checkpoint.path.write_bytes(b"{half a fi")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        Checkpoint(tmp_path, "gcp-logging://p")


def test_each_uri_has_its_own_file_even_when_slugs_collide(tmp_path):
    assert checkpoint_name("s3://b/a_b") != checkpoint_name("s3://b/a/b")


def test_hostile_uri_cannot_escape_the_checkpoint_folder(tmp_path):
    name = checkpoint_name("s3://../../etc/passwd\n")
    assert "/" not in name
    assert not name.startswith(".")
    assert Checkpoint(tmp_path, "s3://../../etc/passwd").path.parent == tmp_path
