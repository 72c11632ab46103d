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
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger("uvicorn.error")  # the parent speaks in uvicorn's log, as its workers

CHECK_SECONDS = 0.5
"""how often the parent looks for a dead worker"""


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


def run_workers(config: uvicorn.Config, workers: int) -> None:
    """Serve ``config`` from ``workers`` processes until SIGINT or SIGTERM; RuntimeError
    when a worker fails before it serves."""
    reserved = reuse_port_socket(config.host, config.port)  # fails now if the port is taken
    stop = threading.Event()
    previous = {sig: signal.signal(sig, _setter(stop)) for sig in (signal.SIGINT, signal.SIGTERM)}
    log.info("Started parent process [%d] for %d workers on SO_REUSEPORT", os.getpid(), workers)
    processes = [_start(config) for _ in range(workers)]
    failed = False
    try:
        while not stop.wait(CHECK_SECONDS):
            for i, process in enumerate(processes):
                if process.is_alive():
                    continue
                failed = process.exitcode == STARTUP_FAILURE
                if failed or stop.is_set():  # broken the same way at every start, or stopping
                    stop.set()
                    break
                log.warning("API worker %s died (exit %s)", process.pid, process.exitcode)
                processes[i] = _start(config)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker drains its requests
        for process in processes:
            process.join((config.timeout_graceful_shutdown or 10) + 5)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        reserved.close()
        log.info("Stopping parent process [%d]", os.getpid())
    if failed:
        raise RuntimeError("an API worker failed to start; its error is in the log above")


def _start(config: uvicorn.Config) -> BaseProcess:
    process = multiprocessing.get_context("spawn").Process(
        target=_serve_one, args=(config,), name="functrail-api"
    )
    process.start()
    return process


def _serve_one(config: uvicorn.Config) -> None:
    """One worker: its own socket, then uvicorn as with a single process."""
    config.configure_logging()  # a spawned process starts with logging unconfigured
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
