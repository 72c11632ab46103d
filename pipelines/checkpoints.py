"""How far each source got: one small JSON file per source URI, replaced atomically.

A source reads its checkpoint when a run starts and saves it each time the caller says a blob
is durably in the lake (``mark_done``), never before: a run killed between fetching a blob and
appending it refetches that blob next time, and the lake drops the duplicates.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import orjson

from pipelines.atomic import write_atomic

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class CheckpointError(RuntimeError):
    """A checkpoint file exists but cannot be read: refuse to guess and redo or skip work."""


class Checkpoint:
    """The saved state of one source (a JSON object whose shape the source decides)."""

    def __init__(self, folder: Path, uri: str, *, ignore_saved: bool = False) -> None:
        """``ignore_saved`` (``--full``) starts from nothing but still saves the new progress."""
        self.folder = Path(folder)
        self.uri = uri
        self.path = self.folder / checkpoint_name(uri)
        self.state: dict[str, Any] = {} if ignore_saved else self._load()

    def _load(self) -> dict[str, Any]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            raise CheckpointError(f"cannot read checkpoint {self.path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("uri") != self.uri:
            raise CheckpointError(f"checkpoint {self.path} does not belong to {self.uri}")
        state = data.get("state")
        return state if isinstance(state, dict) else {}

    def save(self) -> None:
        """Write the state atomically: a reader (or a crash) sees the old file or the new one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        body = orjson.dumps({"uri": self.uri, "state": self.state}, option=orjson.OPT_SORT_KEYS)
        write_atomic(self.path, body, durable=True)


def checkpoint_name(uri: str) -> str:
    """A file name that is readable, safe whatever the URI holds, and unique per URI."""
    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
    slug = _UNSAFE.sub("_", uri)[:80].strip("._") or "source"
    return f"{slug}-{digest}.json"
