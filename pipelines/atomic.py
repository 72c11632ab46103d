"""Small files replaced whole: a reader (or a crash) sees the old file or the new one, never half.

Checkpoints, source health, baseline adjustments and the compiled-rule cache are all written
this way; one function keeps the temporary file in the same folder (so the rename is atomic),
owner-only (``mkstemp`` makes it 0600), and removed when the write fails.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Replace ``path`` with ``data``; with ``durable``, the bytes are on disk before the rename
    (what a checkpoint needs: a power cut must not leave it pointing past unsaved work)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
