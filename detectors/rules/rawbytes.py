"""A row's raw JSON as a view into the Arrow ``raw`` column, for the decoders to read in place.

Rules decode the raw records of the rows their column prefilter leaves undecided: 30k of a
288k-event day for SigmaHQ's ``userIdentity.type: AssumedRole``. Taking those rows out of the
column and turning them into Python strings copied ~30 MB twice, and on this machine kind a
fresh page costs ~10 us of system time. msgspec and orjson both read any buffer, so the
decoders get a ``memoryview`` of the column's own bytes instead.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def chunk_starts(column: pa.ChunkedArray) -> np.ndarray:
    """The row position each chunk of ``column`` starts at, and the total length last."""
    return np.cumsum([0, *(len(chunk) for chunk in column.chunks)])


def chunk_of(starts: np.ndarray, rows: np.ndarray | list[int]) -> np.ndarray:
    """Per row position, the index of the chunk holding it (``starts`` from ``chunk_starts``)."""
    return np.searchsorted(starts, rows, side="right") - 1


class RawBytes:
    """Zero-copy access to the values of a (chunked) string column by row position."""

    def __init__(self, column: pa.ChunkedArray) -> None:
        self._starts = chunk_starts(column)
        self._chunks: list[tuple[np.ndarray, memoryview, np.ndarray | None]] = []
        for chunk in column.chunks:
            width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
            validity, offsets, data = chunk.buffers()[:3]
            bounds = np.frombuffer(offsets, dtype=width)[
                chunk.offset : chunk.offset + len(chunk) + 1
            ]
            nulls = chunk.is_null().to_numpy(zero_copy_only=False) if validity else None
            self._chunks.append((bounds, memoryview(data) if data else memoryview(b""), nulls))

    def get(self, row: int) -> memoryview | None:
        """The row's bytes (None for a null)."""
        return self.many([row])[0]

    def many(self, rows: list[int]) -> list[memoryview | None]:
        """The bytes of each of ``rows`` (None for a null), chunks found in one search."""
        which = chunk_of(self._starts, rows)
        out: list[memoryview | None] = []
        for row, chunk in zip(rows, which.tolist(), strict=True):
            bounds, data, nulls = self._chunks[chunk]
            at = row - int(self._starts[chunk])
            if nulls is not None and nulls[at]:
                out.append(None)
            else:
                out.append(data[int(bounds[at]) : int(bounds[at + 1])])
        return out
