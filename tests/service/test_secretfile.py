"""Secret files: whole from the first read, one winner when processes race to create them."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.keys.store import server_secret
from service.secretfile import read_or_create
from service.webhooks import secrets as webhook_secrets


def _slow(make, barrier: threading.Barrier):
    """``make`` that waits for every racer, then takes a while: the window a reader fell in."""

    def slow(*args, **kwargs):
        value = make(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=1)
        time.sleep(0.2)
        return value

    return slow


def test_racing_first_users_all_get_the_same_whole_api_key_secret(tmp_path, monkeypatch):
    racers = 6
    monkeypatch.setattr(secrets, "token_bytes", _slow(secrets.token_bytes, threading.Barrier(2)))
    with ThreadPoolExecutor(racers) as pool:
        got = list(pool.map(lambda _: server_secret(tmp_path / "home"), range(racers)))
    assert len(set(got)) == 1
    assert len(got[0]) == 32
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == ["api-keys.secret"]


def test_racing_first_users_all_encrypt_with_the_same_webhook_key(settings, monkeypatch):
    racers = 6
    slow = _slow(secrets.token_urlsafe, threading.Barrier(2))
    monkeypatch.setattr(webhook_secrets.pysecrets, "token_urlsafe", slow)
    with ThreadPoolExecutor(racers) as pool:
        stored = list(
            pool.map(lambda i: webhook_secrets.encrypt(settings, f"s{i}", context="c"), range(6))
        )
    for i, value in enumerate(stored):
        assert webhook_secrets.decrypt(settings, value, context="c") == f"s{i}"
    assert len((settings.home / "secret.key").read_bytes()) >= 32


def test_a_truncated_secret_file_is_refused_not_replaced(tmp_path):
    (tmp_path / "api-keys.secret").write_bytes(b"short")
    with pytest.raises(RuntimeError, match="shorter than 32 bytes"):
        server_secret(tmp_path)
    assert (tmp_path / "api-keys.secret").read_bytes() == b"short"


def test_a_created_secret_file_is_private(tmp_path):
    read_or_create(tmp_path / "x.secret", lambda: b"k" * 32)
    assert (tmp_path / "x.secret").stat().st_mode & 0o777 == 0o600
