"""Local folders, files and globs watched for new files (``functrail watch``).

``LocalSource`` reads every file it names on each run: right for a one-off ``ingest``, wrong
for a folder a shipper keeps dropping files into. ``WatchedFiles`` lists the folder each poll
and yields only the files it has not stored yet, or that changed (size or modification time)
since; its checkpoint is the (size, mtime) of each stored file still there. A file is taken
once it has not changed for ``settle`` seconds (a writer still appending would otherwise be
read half-written); a writer that renames a finished file into place (names starting with a
dot are skipped) needs no settle.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from pipelines.checkpoints import Checkpoint
from pipelines.settings import Settings
from pipelines.sources.base import Blob, BlobRef, fetch_blobs
from pipelines.sources.local import LocalFile

log = logging.getLogger(__name__)

_GLOB_CHARS = frozenset("*?[")


class WatchedFiles:
    """Files under ``patterns`` not stored yet, as references; checkpointed by the caller."""

    def __init__(self, patterns: Sequence[str], settings: Settings, *, settle: float = 0.0) -> None:
        self.patterns = [str(Path(p).absolute()) for p in patterns]
        self.settings = settings
        self.settle = settle
        self.uri = " ".join(self.patterns)
        # its own checkpoint name: ``functrail ingest`` of the same path keeps none
        self.checkpoint = Checkpoint(settings.checkpoints_dir, f"watch:{self.uri}")
        self._listed: dict[str, tuple[int, int]] = {}
        """path -> (size, mtime_ns) of every file seen by the last listing"""

    def refs(self, start: datetime, end: datetime) -> Iterator[LocalFile]:
        """The files new or changed since they were stored, oldest first (the range is
        ignored: files are not laid out by time)."""
        del start, end
        done: dict[str, list[int]] = self.checkpoint.state.setdefault("files", {})
        now_ns = time.time_ns()
        self._listed = {}
        found: list[tuple[int, str, int]] = []
        for path in self._paths():
            try:
                stat = os.stat(path)
            except OSError:
                continue  # gone between listing and stat
            self._listed[path] = (stat.st_size, stat.st_mtime_ns)
            if done.get(path) == [stat.st_size, stat.st_mtime_ns]:
                continue
            if now_ns - stat.st_mtime_ns < self.settle * 1e9:
                continue  # still being written: the next poll takes it
            found.append((stat.st_mtime_ns, path, stat.st_size))
        for _mtime, path, size in sorted(found):
            yield LocalFile(path, path, self.settings.max_file_bytes, size)

    def blobs(self, start: datetime, end: datetime) -> Iterator[Blob]:
        """``refs`` fetched (a file refused at fetch is logged and left for the next poll)."""
        return fetch_blobs(self.refs(start, end), lambda r: log.warning("%s", r.line()))

    def arrived(self, ref: BlobRef) -> float | None:
        """When the file landed (its modification time, seconds since the epoch)."""
        seen = self._listed.get(ref.name)
        return None if seen is None else seen[1] / 1e9

    def mark_done(self, blob: BlobRef) -> None:
        """Remember the file as stored at the size and time it was listed (saved by ``save``)."""
        seen = self._listed.get(blob.name)
        if seen is not None:
            self.checkpoint.state.setdefault("files", {})[blob.name] = list(seen)

    def save(self) -> None:
        """Save the checkpoint, forgetting files no longer there (it stays the folder's size)."""
        files: dict[str, list[int]] = self.checkpoint.state.setdefault("files", {})
        self.checkpoint.state["files"] = {p: v for p, v in files.items() if p in self._listed}
        self.checkpoint.save()

    def _paths(self) -> list[str]:
        found: dict[str, None] = {}
        for pattern in self.patterns:
            if any(c in _GLOB_CHARS for c in pattern) and not os.path.exists(pattern):
                matches = sorted(glob.glob(pattern, recursive=True))
            else:
                matches = [pattern]
            for match in matches:
                found.update(dict.fromkeys(_files_under(match)))
        return list(found)


def _files_under(path: str) -> list[str]:
    """Files of a folder (recursively) or the file itself; dot names (files being written by
    a renaming writer, hidden folders) are skipped."""
    if os.path.isdir(path):
        out: list[str] = []
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            out.extend(os.path.join(folder, f) for f in sorted(files) if not f.startswith("."))
        return out
    return [path] if os.path.isfile(path) else []
