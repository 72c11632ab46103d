"""The one protocol every source implements: yield blobs of raw audit records for a time range.

A blob is what one read returns (a file, an S3 object, a page of API results) as bytes in any
input format the parsers detect by content. Sources do not parse; they fetch and remember how
far they got.

Ingestion may run on other processes (Dask workers). A source whose blobs can be fetched by
whoever normalizes them (a file path, an S3 key) also lists ``refs``: small, picklable
``BlobRef``s that a worker fetches itself, so the bytes never pass through the driver. A
``Blob`` is a ``BlobRef`` too (its bytes travel with it): API pages, which only the driver
can page through, are shipped that way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from pipelines.rejects import Reject


class BlobRejected(Exception):
    """The blob cannot be taken as input (too large, unreadable): a reject, not a failure."""


class BlobRef(Protocol):
    """Where one blob's bytes are: named like the blob, fetched where it is normalized."""

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int:
        """Bytes as stored (compressed if the blob is), known before fetching; 0 if unknown."""
        ...

    def fetch(self) -> bytes:
        """The blob's bytes; raises BlobRejected for input that is refused, not broken."""
        ...


@dataclass(frozen=True, slots=True)
class Blob:
    """Raw bytes from one read, named so that errors and rejects can point at their origin."""

    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def fetch(self) -> bytes:
        """A blob already holds its bytes: it is its own reference."""
        return self.data


class Source(Protocol):
    """A place audit records come from, identified by a URI (``s3://``, ``cloudtrail://`` ...)."""

    uri: str

    def blobs(self, start: datetime, end: datetime) -> Iterator[Blob]:
        """Yield blobs with records from ``[start, end)``, skipping what a checkpoint has done."""
        ...


@runtime_checkable
class Referable(Protocol):
    """A source whose blobs anyone can fetch: it lists references instead of reading bytes."""

    uri: str

    def refs(self, start: datetime, end: datetime) -> Iterator[BlobRef]:
        """References to what ``blobs`` would yield, in the same order, not yet fetched."""
        ...


def blob_refs(source: Source, start: datetime, end: datetime) -> Iterator[BlobRef]:
    """The source's references when it has them, else its blobs (which carry their bytes)."""
    if isinstance(source, Referable):
        return source.refs(start, end)
    return source.blobs(start, end)


def fetch_blobs(refs: Iterable[BlobRef], on_reject: Callable[[Reject], None]) -> Iterator[Blob]:
    """Each reference fetched into a blob; one refused at fetch goes to ``on_reject`` (named
    by the reference) and the others go on."""
    for ref in refs:
        try:
            data = ref.fetch()
        except BlobRejected as exc:
            on_reject(Reject(ref.name, None, str(exc)))
            continue
        yield Blob(name=ref.name, data=data)
