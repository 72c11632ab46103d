"""Acknowledged means durable: pushes a server answered survive its kill -9 and reach the lake
after a restart; the push writer is one per data folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.cli.app import app
from tests.factories import cloudtrail_file, cloudtrail_record
from tests.ports import free_port


def _serve(env: dict[str, str], port: int, *extra: str) -> subprocess.Popen[bytes]:
    serve = [sys.executable, "-c", "from service.cli import main; main()", "serve"]
    return subprocess.Popen(
        [*serve, "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _ready(client: httpx.Client) -> None:
    for _ in range(240):
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError("the server did not start")


@pytest.mark.slow
def test_pushes_acknowledged_before_a_kill_9_are_in_the_lake_after_a_restart(settings: Settings):
    key = CliRunner().invoke(app, ["keys", "create", "--role", "ingest", "--name", "i"]).stdout
    headers = {"Authorization": f"Bearer {key.strip()}"}
    records = [cloudtrail_record() for _ in range(40)]
    port = free_port()
    # The first server's writer waits an hour: whatever it acknowledged is only in the log.
    slow = {**os.environ, "FUNCTRAIL_PUSH_DRAIN_SECONDS": "3600"}
    first = _serve(slow, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            _ready(client)
            for record in records:
                pushed = client.post("/v1/events", content=cloudtrail_file(record), headers=headers)
                assert pushed.json()["queued"] == 1
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    assert EventLake(settings.lake_root).read().empty  # nothing had reached the lake

    port = free_port()
    second = _serve(os.environ.copy(), port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            _ready(client)
            deadline = time.monotonic() + 30
            stored: list[str] = []
            while time.monotonic() < deadline and len(stored) < len(records):
                time.sleep(0.5)
                stored = EventLake(settings.lake_root).read()["id"].tolist()
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert sorted(stored) == sorted(r["eventID"] for r in records)
    assert list((Path(settings.home) / "pushlog").glob("seg-*")) == []  # all let go


@pytest.mark.slow
def test_with_two_workers_one_writer_drains_and_the_lake_gets_every_push(settings: Settings):
    key = CliRunner().invoke(app, ["keys", "create", "--role", "ingest", "--name", "w"]).stdout
    headers = {"Authorization": f"Bearer {key.strip()}"}
    port = free_port()
    proc = _serve(os.environ.copy(), port, "--workers", "2")
    records = [cloudtrail_record() for _ in range(60)]
    try:
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) for _ in range(6)]
        _ready(clients[0])
        for i, record in enumerate(records):  # six connections: both workers take pushes
            body = cloudtrail_file(record)
            pushed = clients[i % 6].post("/v1/events", content=body, headers=headers)
            assert pushed.status_code == 200
        deadline = time.monotonic() + 30
        stored: list[str] = []
        while time.monotonic() < deadline and len(stored) < len(records):
            time.sleep(0.5)
            stored = EventLake(settings.lake_root).read()["id"].tolist()
        metrics = [c.get("/metrics").text for c in clients]
    finally:
        for client in clients:
            client.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert sorted(stored) == sorted(r["eventID"] for r in records)
    writers = {line for text in metrics for line in text.splitlines()}
    assert "functrail_push_writer 1.0" in writers
