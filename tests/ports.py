"""A free TCP port on 127.0.0.1, for the servers and receivers tests start."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on right now (connection refused until something takes it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
