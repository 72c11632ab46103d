"""Input records that could not be accepted: counted, explained, and kept in a rejects file.

A reject never stops a batch. Each names where it came from (file or source URI, record index)
and why, so an operator can find the record and fix or replay it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

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
