"""``functrail serve --workers N``: N API processes, each listening on a socket of its own.

uvicorn's own workers share one listening socket, and whichever process wakes first accepts
every connection waiting: 50 clients connecting at once were split 15/35 and 39/11 between
two workers (``ss -tnp``), so one worker queued over twice its share while the other idled
(closed loop at 1M alerts, p99 48.7-55.5 ms). Here each worker binds the port itself with
``SO_REUSEPORT`` and the kernel spreads new connections over the workers' sockets by a hash
of the connection's addresses.

The parent starts the workers, replaces one that dies, and stops them all on SIGINT or SIGTERM
(each drains its requests, as ``functrail serve`` does with one process). It holds the port
bound but not listening, so a port already in use fails at once, and nothing waits in a
queue no worker reads. A worker that fails before serving (a broken app or database) stops
the parent instead of being restarted forever. Linux admits only processes of the same user
to a ``SO_REUSEPORT`` group.

A hung worker would keep its socket, and the kernel would go on handing it a share of the new
connections. Each worker's event loop therefore stamps a shared clock every second (uvicorn's
``callback_notify`` tick); a worker whose stamp is ``hang_seconds`` old (its loop blocked, a
deadlock) is killed and replaced, as uvicorn's own supervisor did with its pings.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger("uvicorn.error")  # the parent speaks in uvicorn's log, as its workers

CHECK_SECONDS = 0.5
"""how often the parent looks for a dead or hung worker"""
HANG_SECONDS = 30.0
"""a worker whose event loop has not ticked for this long is killed and replaced"""
START_SECONDS = 120.0
"""how long a new worker may take to start serving (imports, opening the store)"""


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other sockets of this user may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def run_workers(
    config: uvicorn.Config, workers: int, *, hang_seconds: float = HANG_SECONDS
) -> None:
    """Serve ``config`` from ``workers`` processes until SIGINT or SIGTERM; RuntimeError
    when a worker fails before it serves."""
    reserved = reuse_port_socket(config.host, config.port)  # fails now if the port is taken
    stop = threading.Event()
    previous = {sig: signal.signal(sig, _setter(stop)) for sig in (signal.SIGINT, signal.SIGTERM)}
    log.info("Started parent process [%d] for %d workers on SO_REUSEPORT", os.getpid(), workers)
    running = [_Worker.start(config) for _ in range(workers)]
    failed = False
    try:
        while not stop.wait(CHECK_SECONDS):
            for i, worker in enumerate(running):
                process = worker.process
                if process.is_alive():
                    silent = worker.overdue(hang_seconds)
                    if silent is not None:
                        log.error(
                            "API worker %s: its event loop has not ticked for %.0f s; killing it",
                            process.pid,
                            silent,
                        )
                        process.kill()
                        process.join()
                        running[i] = _Worker.start(config)
                    continue
                failed = process.exitcode == STARTUP_FAILURE
                if failed or stop.is_set():  # broken the same way at every start, or stopping
                    stop.set()
                    break
                log.warning("API worker %s died (exit %s)", process.pid, process.exitcode)
                running[i] = _Worker.start(config)
    finally:
        for worker in running:
            if worker.process.is_alive():
                worker.process.terminate()  # SIGTERM: the worker drains its requests
        for worker in running:
            worker.process.join((config.timeout_graceful_shutdown or 10) + 5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        reserved.close()
        log.info("Stopping parent process [%d]", os.getpid())
    if failed:
        raise RuntimeError("an API worker failed to start; its error is in the log above")


@dataclass
class _Worker:
    process: BaseProcess
    started: float
    ticked: ctypes.c_double
    """the worker's last event-loop tick (``time.monotonic``, shared); 0 until it serves"""

    @classmethod
    def start(cls, config: uvicorn.Config) -> _Worker:
        context = multiprocessing.get_context("spawn")
        ticked = context.RawValue(ctypes.c_double, 0.0)
        process = context.Process(target=_serve_one, args=(config, ticked), name="functrail-api")
        process.start()
        return cls(process, time.monotonic(), ticked)

    def overdue(self, hang_seconds: float) -> float | None:
        """Seconds of silence, once past the allowance: ``START_SECONDS`` before the first
        tick, ``hang_seconds`` between ticks."""
        last = self.ticked.value
        silent = time.monotonic() - (last or self.started)
        return silent if silent > (hang_seconds if last else START_SECONDS) else None


def _serve_one(config: uvicorn.Config, ticked: ctypes.c_double) -> None:
    """One worker: its own socket, then uvicorn as with a single process."""
    config.configure_logging()  # a spawned process starts with logging unconfigured

    async def tick() -> None:
        ticked.value = time.monotonic()

    config.callback_notify, config.timeout_notify = tick, 0  # every second of the main loop
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[reuse_port_socket(config.host, config.port)])
    except Exception:
        if server.started:
            raise  # died while serving: the parent starts another
        log.exception("API worker could not start")  # e.g. the app factory met a dead database
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _setter(event: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        event.set()

    return handler
