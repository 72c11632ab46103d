"""Input records that could not be accepted: counted, explained, and kept in a rejects file.

A reject never stops a batch. Each names where it came from (file or source URI, record index)
and why, so an operator can find the record and fix or replay it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

log = logging.getLogger("functrail.rejects")

REJECT_SNIPPET_BYTES = 512
"""How much of a rejected record is kept beside the reason: enough to find it, never 50 MB."""


@dataclass(frozen=True, slots=True)
class Reject:
    """Why one record (or a whole unreadable file, ``index`` None) was not accepted."""

    source: str
    index: int | None
    reason: str
    snippet: str = ""

    def line(self) -> str:
        where = self.source if self.index is None else f"{self.source} record {self.index}"
        return f"{where}: {self.reason}"


def snippet_of(data: bytes | str) -> str:
    """A bounded, printable excerpt of a bad record."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text[:REJECT_SNIPPET_BYTES]


def unreadable(source: str, exc: BaseException) -> Reject:
    """The reject of a blob whose reading failed in our own code, in plain words.

    A reason reaches whoever pushed the input (the API answers it): an internal exception's
    text (``RecursionError: maximum recursion depth exceeded ...``) says nothing useful to
    them and something about us to an attacker. The details go to the log, under a reference
    the reason carries.
    """
    if isinstance(exc, RecursionError):
        return Reject(source, None, "the input nests deeper than the parser allows")
    if isinstance(exc, MemoryError):
        return Reject(source, None, "the input is too large to parse")
    ref = uuid.uuid4().hex[:12]
    log.warning("input %s could not be normalized (reference %s)", source, ref, exc_info=exc)
    return Reject(source, None, f"the input could not be read (reference {ref} in the log)")


def write_rejects(rejects: list[Reject], folder: Path, run_name: str) -> Path | None:
    """Append rejects as JSON lines to ``folder/<run_name>.jsonl``; None when there are none."""
    if not rejects:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{run_name}-{stamp}.jsonl"
    with path.open("ab") as out:
        for reject in rejects:
            out.write(orjson.dumps(asdict(reject)) + b"\n")
    return path
