"""``functrail serve`` as a real process: migrates, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from service.cli import app
from service.cli.serve import build_app
from tests.ports import free_port


@pytest.mark.integration
@pytest.mark.parametrize(("workers", "access_log"), [(1, False), (2, False), (1, True)])
def test_serve_answers_401_without_key_and_a_page_with_one(settings, workers, access_log):
    key = (
        CliRunner()
        .invoke(app, ["keys", "create", "--role", "viewer", "--name", "srv"])
        .stdout.strip()
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from service.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        + (["--access-log"] if access_log else []),
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        anonymous = httpx.get(f"{base}/v1/alerts")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        for _ in range(4):  # with 2 workers, new connections may land on either
            page = httpx.get(f"{base}/v1/alerts", headers={"Authorization": f"Bearer {key}"})
            assert page.json() == {"items": [], "next_cursor": None}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, log = proc.communicate(timeout=30)
    # The access log is opt-in: every /v1 call is in the audit log already.
    assert (b'"GET /v1/alerts HTTP/1.1" 401' in out + log) == access_log
    # uvicorn drains, then re-raises the signal it caught: a clean stop, not a crash.
    assert proc.returncode in (0, -signal.SIGTERM)
    assert log.count(b"Finished server process") == workers
    assert (b"Started parent process" in log) == (workers > 1)
    assert b"Traceback" not in log


def test_the_served_app_is_frozen_out_of_the_garbage_collectors_full_passes(settings):
    """A full collection walked every start-up object (100-140 ms, a stall for every request
    in flight); build_app freezes what start-up made, as each worker builds its own app."""
    gc.unfreeze()
    try:
        build_app(settings)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
