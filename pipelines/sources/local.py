"""Local files, folders and globs as a Source: the debugging and batch-file path.

Files are read whole (one blob per file) and in a stable, sorted order. Their content decides
the format, not their names. Local files are not laid out by time, so ``LocalSource`` filters
by time after normalizing, not before.
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipelines.normalize import Batch, filter_time, normalize_chunks
from pipelines.rejects import Reject
from pipelines.settings import Settings
from pipelines.sources.base import Blob, BlobRejected, fetch_blobs

log = logging.getLogger(__name__)

_GLOB_CHARS = frozenset("*?[")


class PathNotFound(FileNotFoundError):
    """A path or glob named by the user matches no file."""


def resolve_paths(patterns: Sequence[str]) -> list[Path]:
    """Every file named by ``patterns`` (files, folders recursively, globs), sorted, no repeats.

    Raises PathNotFound naming the first pattern that matches nothing, before any reading, so a
    typo fails fast instead of running on part of the input.
    """
    found: dict[Path, None] = {}
    for pattern in patterns:
        if any(char in _GLOB_CHARS for char in pattern) and not Path(pattern).exists():
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
            files = [path for match in matches for path in _files_under(match)]
        else:
            path = Path(pattern)
            if not path.exists():
                raise PathNotFound(f"no such file or folder: {pattern}")
            files = _files_under(path)
        if not files and any(char in _GLOB_CHARS for char in pattern):
            raise PathNotFound(f"no file matches: {pattern}")
        found.update(dict.fromkeys(files))
    return list(found)


def _files_under(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [path] if path.is_file() else []


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A file to read whole where it is normalized: the driver or a worker that sees the path.

    ``name`` is the path as the user gave it (rejects and events point at it); ``path`` is
    absolute, because a Dask worker does not share the driver's working folder.
    """

    name: str
    path: str
    max_bytes: int
    size: int = 0

    def fetch(self) -> bytes:
        """The file's bytes; too large or unreadable is a reject.

        A file that is not there at all fails the source instead: it was listed a moment ago,
        so it is missing here (a worker that does not mount the path), not bad input.
        """
        path = Path(self.path)
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                raise BlobRejected(f"file is {size} bytes, over max_file_bytes={self.max_bytes}")
            return path.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{self.path} was listed but is not readable here: Dask workers need the same "
                "path (a shared folder) or an s3:// source"
            ) from None
        except OSError as exc:
            raise BlobRejected(f"cannot read file: {exc.strerror or exc}") from None


def local_files(patterns: Sequence[str], settings: Settings) -> Iterator[LocalFile]:
    """References to every file named by ``patterns`` (see ``resolve_paths``), in order."""
    yield from file_refs(resolve_paths(patterns), settings)


def file_refs(paths: Iterable[Path], settings: Settings) -> Iterator[LocalFile]:
    """References to files already resolved (``resolve_paths``), in order: resolving each
    path again costs a few stats per file (~25 ms for 500 files)."""
    for path in paths:
        try:
            size = path.stat().st_size
        except OSError:
            size = 0  # fetch says why
        yield LocalFile(str(path), str(path.absolute()), settings.max_file_bytes, size)


def iter_local_blobs(
    patterns: Sequence[str],
    *,
    settings: Settings | None = None,
    on_reject: Callable[[Reject], None] | None = None,
) -> Iterator[Blob]:
    """One blob per file; files over ``settings.max_file_bytes`` or unreadable become rejects.

    Rejects go to ``on_reject`` (default: logged as warnings), and the other files go on.
    """
    settings = settings or Settings()
    report = on_reject or (lambda reject: log.warning("%s", reject.line()))
    return fetch_blobs(local_files(patterns, settings), report)


def iter_file_blobs(
    files: Sequence[Path], *, settings: Settings, on_reject: Callable[[Reject], None]
) -> Iterator[Blob]:
    """``iter_local_blobs`` of files already resolved by ``resolve_paths``."""
    return fetch_blobs(file_refs(files, settings), on_reject)


class LocalSource:
    """Files, folders and globs on this machine, as a ``Source`` (``uri`` is the patterns)."""

    def __init__(self, patterns: Sequence[str], *, settings: Settings | None = None) -> None:
        self.patterns = list(patterns)
        self.settings = settings or Settings()
        self.uri = " ".join(self.patterns)
        self.rejects: list[Reject] = []

    def blobs(self, start: datetime, end: datetime) -> Iterator[Blob]:
        """Every file's blob; records outside ``[start, end)`` are dropped after normalizing.

        Use ``pipelines.normalize.filter_time`` (or ``batches``) on the normalized events.
        Files that cannot be read are collected in ``self.rejects``.
        """
        del start, end  # local files are not laid out by time: filter after normalizing
        yield from iter_local_blobs(
            self.patterns, settings=self.settings, on_reject=self.rejects.append
        )

    def refs(self, start: datetime, end: datetime) -> Iterator[LocalFile]:
        """The files as references (a Dask worker reads them); rejects come from ``fetch``."""
        del start, end
        return local_files(self.patterns, self.settings)

    def batches(self, start: datetime, end: datetime) -> Iterator[Batch]:
        """Normalized batches holding only events in ``[start, end)``; small files are merged."""
        for batch in normalize_chunks(self.blobs(start, end), settings=self.settings):
            yield batch._replace(events=filter_time(batch.events, start, end))
