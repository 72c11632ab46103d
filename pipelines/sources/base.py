"""The one protocol every source implements: yield blobs of raw audit records for a time range.

A blob is what one read returns (a file, an S3 object, a page of API results) as bytes in any
input format the parsers detect by content. Sources do not parse; they fetch and remember how
far they got.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Blob:
    """Raw bytes from one read, named so that errors and rejects can point at their origin."""

    name: str
    data: bytes


class Source(Protocol):
    """A place audit records come from, identified by a URI (``s3://``, ``cloudtrail://`` ...)."""

    uri: str

    def blobs(self, start: datetime, end: datetime) -> Iterator[Blob]:
        """Yield blobs with records from ``[start, end)``, skipping what a checkpoint has done."""
        ...
