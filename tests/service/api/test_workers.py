"""``functrail serve --workers N``: a listening socket per worker, so connections spread."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from service.api.workers import reuse_port_socket, run_workers
from service.cli import app
from tests.ports import free_port


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _sockets_by_process(pids: list[int], port: int) -> dict[str, Counter[int]]:
    """Server-side TCP sockets on ``port`` by state (LISTEN, ESTABLISHED) and owning pid."""
    owner = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd) if fd.is_symlink() else ""
            if target.startswith("socket:["):
                owner[target[8:-1]] = pid
    found: dict[str, Counter[int]] = {"LISTEN": Counter(), "ESTABLISHED": Counter()}
    states = {"0A": "LISTEN", "01": "ESTABLISHED"}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
            if local_port == port and state in states and inode in owner:
                found[states[state]][owner[inode]] += 1
    return found


def broken_app_factory() -> None:
    """An app that cannot be built: what a worker meets with a broken configuration."""
    raise RuntimeError("broken on purpose")


def hanging_app_factory() -> Any:
    """An app whose event loop blocks half a second after it starts serving: a hung worker."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            asyncio.get_running_loop().call_later(0.5, time.sleep, 3600)
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})

    return app


@pytest.mark.integration
def test_a_worker_whose_loop_stopped_ticking_is_killed_and_replaced(caplog):
    port = free_port()
    config = uvicorn.Config(
        f"{__name__}:hanging_app_factory", factory=True, port=port, log_level="error"
    )
    parent_log = logging.getLogger("uvicorn.error")  # uvicorn's config stops it at "uvicorn"
    parent_log.addHandler(caplog.handler)
    deadline = time.monotonic() + 90

    def killed() -> list[str]:
        return [r.getMessage() for r in caplog.records if "has not ticked" in r.getMessage()]

    def check(*_: object) -> None:  # stop the parent, as an operator would, once seen
        if len(killed()) >= 2 or time.monotonic() > deadline:
            os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.signal(signal.SIGALRM, check)
    signal.setitimer(signal.ITIMER_REAL, 0.5, 0.5)
    try:
        run_workers(config, 1, hang_seconds=2)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        parent_log.removeHandler(caplog.handler)
    assert len(killed()) >= 2, killed()  # the first worker, then its replacement
    assert len({message.split(":")[0] for message in killed()}) == len(killed())  # new pids


@pytest.mark.integration
def test_a_worker_that_cannot_start_stops_the_parent_with_an_error():
    port = free_port()
    config = uvicorn.Config(
        f"{__name__}:broken_app_factory", factory=True, port=port, log_level="critical"
    )

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("the parent kept restarting a worker that cannot start")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        with pytest.raises(RuntimeError, match="failed to start"):
            run_workers(config, 2)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_taken_port_fails_at_once():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(OSError, match=r"cannot listen on 127\.0\.0\.1:\d+: .*in use"):
            reuse_port_socket("127.0.0.1", holder.getsockname()[1])


@pytest.mark.integration
def test_each_worker_listens_on_its_own_socket_and_connections_spread(settings):
    key = CliRunner().invoke(app, ["keys", "create", "--role", "viewer", "--name", "w"]).stdout
    port = free_port()
    serve = [sys.executable, "-c", "from service.cli import main; main()", "serve"]
    proc = subprocess.Popen(
        [*serve, "--port", str(port), "--workers", "2"],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    clients: list[httpx.Client] = []
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            children = _children(proc.pid)  # the workers (and multiprocessing's helper)
            listening = _sockets_by_process(children, port)["LISTEN"]
            if len(listening) == 2:
                break
            time.sleep(0.5)
        assert sorted(listening.values()) == [1, 1]  # two workers, one socket each
        workers = list(listening)
        clients = [httpx.Client(base_url=base) for _ in range(40)]
        for client in clients:  # 40 keep-alive connections, opened together
            assert client.get("/healthz").status_code == 200
        spread = _sockets_by_process(workers, port)["ESTABLISHED"]
        assert sum(spread.values()) == 40
        assert min(spread[pid] for pid in workers) >= 8, spread
        page = clients[0].get("/v1/alerts", headers={"Authorization": f"Bearer {key.strip()}"})
        assert page.status_code == 200
    finally:
        for client in clients:
            client.close()
        proc.send_signal(signal.SIGTERM)
        _, log = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert log.count(b"Finished server process") == 2
    assert b"Traceback" not in log


@pytest.mark.integration
def test_revocation_reaches_every_worker_within_a_second(settings):
    """Review finding L4: a revoked key was accepted ~1.6 s later by another worker."""
    from concurrent.futures import ThreadPoolExecutor

    runner = CliRunner()
    key = runner.invoke(app, ["keys", "create", "--role", "viewer", "--name", "r"]).stdout.strip()
    port = free_port()
    serve = [sys.executable, "-c", "from service.cli import main; main()", "serve"]
    proc = subprocess.Popen(
        [*serve, "--port", str(port), "--workers", "2"],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    headers = {"Authorization": f"Bearer {key}"}
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(20)]
    try:
        for _ in range(120):
            if len(_sockets_by_process(_children(proc.pid), port)["LISTEN"]) == 2:
                break
            time.sleep(0.5)
        workers = list(_sockets_by_process(_children(proc.pid), port)["LISTEN"])
        for client in clients:  # every worker has checked (and cached) the key
            assert client.get("/v1/alerts", headers=headers).status_code == 200
        spread = _sockets_by_process(workers, port)["ESTABLISHED"]
        assert len([pid for pid in workers if spread[pid]]) == 2, spread

        assert runner.invoke(app, ["keys", "revoke", "r"]).exit_code == 0
        revoked = time.monotonic()

        def hammer(client: httpx.Client) -> list[tuple[float, int]]:
            seen = []
            while (sent := time.monotonic()) < revoked + 2.5:
                seen.append((sent - revoked, client.get("/v1/alerts", headers=headers).status_code))
            return seen

        with ThreadPoolExecutor(len(clients)) as pool:
            answers = [a for seen in pool.map(hammer, clients) for a in seen]
    finally:
        for client in clients:
            client.close()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    late = [(round(at, 3), code) for at, code in answers if at >= 1.0 and code != 401]
    assert late == []
    assert len([1 for at, _ in answers if at >= 1.0]) > 20
