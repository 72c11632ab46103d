"""Gzip detection by content, bounded decompression, and partial output from truncated files.

CloudTrail writes gzip files; other inputs arrive plain. The magic bytes decide, never the file
name. Decompression is streamed with an output cap so a gzip bomb becomes a reject rather than
an out-of-memory kill, and a truncated or corrupt stream still yields what was decoded before
the break (the JSON layer then keeps the complete records in it).

Memory: the output is kept only up to ``keep_bytes`` (16 MiB). A stream that inflates past
that is followed to its end counting bytes and keeping none: over the limit, it is refused
having held ~``keep_bytes`` (a 1 MiB gzip of 1 GiB used to be inflated to the 1 GiB limit,
289 -> 1,337 MB of RSS, before being refused); within it, it is inflated again, kept whole.
Only legitimate large inputs pay that second pass (ISA-L: ~1 GB/s, a few percent of parsing).
"""

from __future__ import annotations

from typing import Final

try:  # ISA-L inflates ~2.5x faster than zlib (PERFORMANCE.md); same API.
    from isal import isal_zlib as _zlib
except ImportError:  # pragma: no cover - isal is a declared dependency
    import zlib as _zlib  # type: ignore[no-redef]

GZIP_MAGIC: Final = b"\x1f\x8b"
_CHUNK: Final = 4 * 1024 * 1024
"""Compressed bytes fed per step: bounds the work done past the output cap."""
_STEP: Final = 1024 * 1024
"""Output inflated per call once nothing is kept: what a counting pass holds at a time. While
output is kept, one call may inflate all that would be kept: a file within ``keep_bytes`` comes
out as one piece, never joined (1 MiB steps copied every file's output twice more: once into
each step's bytes, once joining the steps; ~15% of inflating)."""
KEEP_BYTES: Final = 16 * 1024 * 1024
"""Output kept while inflating before switching to counting (see the module docstring)."""


class Decompressed:
    """The bytes recovered from a blob, and why the rest (if any) could not be read."""

    __slots__ = ("data", "error", "too_large")

    def __init__(self, data: bytes, error: str | None = None, *, too_large: bool = False) -> None:
        self.data = data
        self.error = error
        self.too_large = too_large


def is_gzip(data: bytes) -> bool:
    return data[:2] == GZIP_MAGIC


def decompress(
    data: bytes,
    max_bytes: int,
    *,
    limit_name: str = "max_file_bytes",
    keep_bytes: int = KEEP_BYTES,
) -> Decompressed:
    """Inflate gzip (all members) up to ``max_bytes``; plain input passes through unchanged.

    On a truncated or corrupt stream the output decoded so far is returned with ``error`` set.
    Output over ``max_bytes`` returns no data and ``too_large`` (the file is rejected whole);
    the reason names ``limit_name``, the setting that holds ``max_bytes``.
    """
    if not is_gzip(data):
        if len(data) > max_bytes:
            return Decompressed(
                b"", f"{len(data)} bytes, over {limit_name}={max_bytes}", too_large=True
            )
        return Decompressed(data)
    keep = min(keep_bytes, max_bytes)
    first = _inflate(data, max_bytes, keep)
    if first.too_large:
        return Decompressed(
            b"", f"decompresses to over {limit_name}={max_bytes} bytes", too_large=True
        )
    if first.pieces is None:  # past ``keep`` yet within the limit: inflate again, keeping all
        first = _inflate(data, max_bytes, max_bytes)
    pieces = first.pieces or []
    out = pieces[0] if len(pieces) == 1 else b"".join(pieces)
    return Decompressed(out, first.error)


class _Pass:
    __slots__ = ("error", "pieces", "too_large")

    def __init__(self) -> None:
        self.pieces: list[bytes] | None = []
        """the output, or None once it went past what this pass keeps"""
        self.error: str | None = None
        self.too_large = False


def _inflate(data: bytes, max_bytes: int, keep: int) -> _Pass:
    """One pass over every gzip member: the output while it stays within ``keep`` bytes, the
    first error, and whether the output went over ``max_bytes``."""
    done = _Pass()
    total = 0
    view = memoryview(data)
    pos = 0
    member = 1
    inflater = _zlib.decompressobj(wbits=31)
    pending = b""
    full = False  # the last call filled its output: more may wait inside the inflater
    while True:
        if not pending and not full:
            if pos >= len(view):
                break
            pending = bytes(view[pos : pos + _CHUNK])
            pos += _CHUNK
        step = _STEP if done.pieces is None else keep - total + 1
        limit = min(step, max_bytes - total + 1)
        try:
            piece = inflater.decompress(pending, limit)
        except _zlib.error as exc:  # type: ignore[misc]
            done.error = (
                f"corrupt gzip data in member {member} after {total} decompressed bytes ({exc})"
            )
            return done
        full = len(piece) == limit
        pending = inflater.unconsumed_tail
        total += len(piece)
        if total > max_bytes:
            done.pieces, done.too_large = None, True
            return done
        if done.pieces is not None:
            if total > keep:
                done.pieces = None  # freed now: from here on only the count is kept
            else:
                done.pieces.append(piece)
        if inflater.eof:
            rest = inflater.unused_data + bytes(view[pos:])
            if not is_gzip(rest):
                break  # trailing padding after the last member is ignored, as gzip(1) does
            view, pos, pending, full = memoryview(rest), 0, b"", False
            inflater = _zlib.decompressobj(wbits=31)
            member += 1
    if not inflater.eof:
        done.error = (
            f"truncated gzip: stream ends after {total} decompressed bytes without its end marker"
        )
    return done
