"""Secret files in the data folder, created once, whole, by whichever process comes first.

Several processes can start on a fresh data folder at once (``serve --workers N``, a score
job, ``keys create``). Creating the file with ``O_EXCL`` and then writing it left a moment in
which another process found an empty file: it refused to start (the API key secret) or took
an empty secret (the webhook key). Here the secret is written to a temporary file of our own,
fsynced, and published with ``link``, which fails when the name exists: a file at the final
name is always complete, and every racer ends up reading the winner's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

from pipelines.private import private_dir


def read_or_create(path: Path, make: Callable[[], bytes], *, min_bytes: int = 32) -> bytes:
    """The secret in ``path``, made with ``make`` (0600, fsynced) when there is none yet.

    RuntimeError when the file exists but is shorter than ``min_bytes``: restored wrongly or
    truncated, and a secret silently re-made would lock out every key made with the old one.
    """
    if not path.exists():
        _publish(path, make())
    data = path.read_bytes()
    if len(data) < min_bytes:
        raise RuntimeError(
            f"{path} is shorter than {min_bytes} bytes; restore it, or delete it and re-create "
            "what depends on it"
        )
    return data


def _publish(path: Path, secret: bytes) -> None:
    private_dir(path.parent, narrow=False)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secret)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, path)  # atomic, and never replaces a secret someone published
        except FileExistsError:
            return  # another process won: its file is whole, and is the one everyone reads
        _sync_dir(path.parent)
    finally:
        temp.unlink(missing_ok=True)


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
