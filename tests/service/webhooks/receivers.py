"""Real HTTP receivers on 127.0.0.1 for webhook tests: they verify signatures and record calls.

Each receiver answers from a script (status codes, delays, redirects), then 200 for ever, so a
test states "500 then 200" or "slow once" and checks what arrived.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from service.webhooks.signing import verify

CLIENT_GONE = -1
"""``answered`` of a slow call whose client had given up (read timeout) before the answer."""


def _peer_closed(connection: socket.socket) -> bool:
    """Whether the client hung up: readable with nothing to read."""
    ready, _, _ = select.select([connection], [], [], 0)
    if not ready:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


@dataclass
class Step:
    """One scripted answer: a status, an optional delay before it, optional headers."""

    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    stream_bytes: int = 0
    """When set, answer with this many bytes in chunks (to see how much the client reads)."""


@dataclass
class Received:
    """One request as the receiver saw it."""

    delivery_id: str
    event: str
    body: dict[str, Any]
    verified: bool
    host: str
    answered: int


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that checks the functrail signature of every POST."""

    def __init__(self, secret: str = "", script: list[Step] | None = None, port: int = 0) -> None:
        self.secret = secret
        self.script = list(script or [])
        self.calls: list[Received] = []
        self.streamed: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                with receiver.lock:
                    step = receiver.script.pop(0) if receiver.script else Step()
                status = step.status
                if step.delay:
                    time.sleep(step.delay)
                    if _peer_closed(self.connection):
                        status = CLIENT_GONE
                ok = verify(
                    receiver.secret.encode(),
                    raw,
                    self.headers.get("X-Functrail-Timestamp"),
                    self.headers.get("X-Functrail-Signature"),
                )
                with receiver.lock:
                    receiver.calls.append(
                        Received(
                            delivery_id=self.headers.get("X-Functrail-Delivery", ""),
                            event=self.headers.get("X-Functrail-Event", ""),
                            body=orjson.loads(raw) if raw else {},
                            verified=ok,
                            host=self.headers.get("Host", ""),
                            answered=status,
                        )
                    )
                if status == CLIENT_GONE:
                    return
                try:
                    self.send_response(status)
                    for name, value in step.headers.items():
                        self.send_header(name, value)
                    if step.stream_bytes:
                        self._stream(step.stream_bytes)
                        return
                    self.send_header("Content-Length", str(len(step.body)))
                    self.end_headers()
                    self.wfile.write(step.body)
                except OSError:
                    pass

            def _stream(self, total: int) -> None:
                self.send_header("Content-Length", str(total))
                self.end_headers()
                chunk = b"x" * 65536
                sent = 0
                try:
                    while sent < total:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                finally:
                    receiver.streamed.append(sent)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def delivered(self) -> list[Received]:
        """The calls answered with 2xx: what the receiver accepted."""
        with self.lock:
            return [c for c in self.calls if 200 <= c.answered < 300]


@contextmanager
def receiver(secret: str = "", script: list[Step] | None = None) -> Iterator[Receiver]:
    """A started receiver, stopped at the end of the block."""
    r = Receiver(secret, script).start()
    try:
        yield r
    finally:
        r.stop()
