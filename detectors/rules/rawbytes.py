"""A row's raw JSON as a view into the Arrow ``raw`` column, for the decoders to read in place.

Rules decode the raw records of the rows their column prefilter leaves undecided: 30k of a
288k-event day for SigmaHQ's ``userIdentity.type: AssumedRole``. Taking those rows out of the
column and turning them into Python strings copied ~30 MB twice, and on this machine kind a
fresh page costs ~10 us of system time. msgspec and orjson both read any buffer, so the
decoders get a ``memoryview`` of the column's own bytes instead.

The raw-text screens read the column in place too: ``RowText`` arranges some rows' texts as
slices of their chunks for repeated RE2 searches, and ``ascii_only`` tells a chunk whose bytes
are all ASCII with one ``max`` over its data.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def chunk_starts(column: pa.ChunkedArray) -> np.ndarray:
    """The row position each chunk of ``column`` starts at, and the total length last."""
    return np.cumsum([0, *(len(chunk) for chunk in column.chunks)])


def chunk_of(starts: np.ndarray, rows: np.ndarray | list[int]) -> np.ndarray:
    """Per row position, the index of the chunk holding it (``starts`` from ``chunk_starts``)."""
    return np.searchsorted(starts, rows, side="right") - 1


def chunk_groups(which: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The positions of ``which`` (each row's chunk, ``chunk_of``) grouped by chunk, in chunk
    order: (chunk index, positions into ``which`` whose row it holds, in their order)."""
    if not len(which):
        return []
    order = np.argsort(which, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(which[order])) + 1)
    return [(int(which[group[0]]), group) for group in groups]


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

    def _one(self, row: int, chunk: int) -> memoryview | None:
        """One row's bytes, its chunk known."""
        bounds, data, nulls = self._chunks[chunk]
        at = row - int(self._starts[chunk])
        if nulls is not None and nulls[at]:
            return None
        return data[int(bounds[at]) : int(bounds[at + 1])]

    def many(self, rows: list[int]) -> list[memoryview | None]:
        """The bytes of each of ``rows`` (None for a null): where each lies is looked up with
        numpy, a chunk at a time, and only the slicing is done per row (reading the offsets
        and null flags row by row in Python cost ~1 us a row, a third of decoding the row)."""
        if len(rows) <= 32:  # a record or two: numpy's per-call costs would dominate
            return [
                self._one(row, chunk)
                for row, chunk in zip(rows, chunk_of(self._starts, rows).tolist(), strict=True)
            ]
        positions = np.asarray(rows, dtype=np.int64)
        which = chunk_of(self._starts, positions)
        local = positions - self._starts[which]
        begin = np.empty(len(positions), dtype=np.int64)
        end = np.empty(len(positions), dtype=np.int64)
        null = np.zeros(len(positions), dtype=bool)
        for chunk, group in chunk_groups(which):
            bounds, _, nulls = self._chunks[chunk]
            at = local[group]
            begin[group] = bounds[at]
            end[group] = bounds[at + 1]
            if nulls is not None:
                null[group] = nulls[at]
        datas = [data for _, data, _ in self._chunks]
        return [
            None if missing else datas[c][lo:hi]
            for c, lo, hi, missing in zip(
                which.tolist(), begin.tolist(), end.tolist(), null.tolist(), strict=True
            )
        ]


def _data_span(chunk: pa.Array) -> tuple[type[np.signedinteger], int, int]:
    """A string array's offset width, and where its values' bytes start and end in its data
    buffer."""
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = chunk.buffers()[1]
    if not len(chunk) or offsets is None:
        return width, 0, 0
    bounds = np.frombuffer(offsets, dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
    return width, int(bounds[0]), int(bounds[-1])


def ascii_only(chunk: pa.Array) -> bool:
    """True when every byte of a string array's values is ASCII: one ``max`` over its data
    buffer (~10 GB/s), where ``string_is_ascii`` walks it row by row (~3 GB/s). Bytes under
    null slots count too, so False only means "ask per row"."""
    _, lo, hi = _data_span(chunk)
    data = chunk.buffers()[2]
    if hi <= lo or data is None:
        return True
    return int(np.frombuffer(data, dtype=np.uint8)[lo:hi].max()) < 0x80


def joined(chunk: pa.Array) -> pa.Array:
    """A string array's values as one string, its data buffer read in place: one search of
    it tells whether any value may hold a literal (RE2 runs once, not once per row; a match
    may span two values, so a hit only means "ask per row")."""
    width, lo, hi = _data_span(chunk)
    data = chunk.buffers()[2] if hi > lo else None
    offsets = pa.py_buffer(np.array([lo, hi] if data is not None else [0, 0], dtype=width))
    return pa.Array.from_buffers(chunk.type, 1, [None, offsets, data or pa.py_buffer(b"")])


class RowText:
    """The texts of some rows of a chunked string column, arranged for repeated searches.

    A screen over one provider's rows (Google Cloud's 19k of a 288k-event day) is asked again
    for each rule with other literals; working out which chunks and runs hold the rows costs
    each call a third of the search itself. Built once per row set: where the rows asked for
    are dense in their span of a chunk (the usual case: a provider's rows run together) that
    span is a zero-copy slice, searched whole; only rows scattered thinly over a chunk are
    taken (copied), once.
    """

    def __init__(self, column: pa.ChunkedArray, rows: np.ndarray) -> None:
        self.rows = np.array(rows, dtype=np.int64)
        starts = chunk_starts(column)
        pieces: list[pa.Array] = []
        self.select = np.empty(len(self.rows), dtype=np.int64)
        """Per row: its position in the concatenated ``pieces``."""
        base = 0
        for chunk_index, group in chunk_groups(chunk_of(starts, self.rows)):
            chunk = column.chunk(chunk_index)
            local = self.rows[group] - int(starts[chunk_index])
            lo, hi = int(local.min()), int(local.max()) + 1
            if len(local) * 8 > hi - lo:  # dense: search the span in place
                pieces.append(chunk.slice(lo, hi - lo))
                self.select[group] = base + local - lo
                base += hi - lo
            else:
                pieces.append(chunk.take(pa.array(local, pa.int64())))
                self.select[group] = base + np.arange(len(local))
                base += len(local)
        self.pieces = pa.chunked_array(pieces, type=column.type)
        self.sorted = bool(np.all(np.diff(self.rows) > 0))

    def search(self, pattern: str) -> np.ndarray:
        """Per row: does its text match the RE2 ``pattern`` (a null never does)?"""
        found = pc.fill_null(pc.match_substring_regex(self.pieces, pattern), False)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)[self.select]

    def positions(self, rows: np.ndarray) -> np.ndarray | None:
        """Where each of ``rows`` is among this set's rows, or None unless all of them are (and
        they are at least half of it: searching many more rows than asked costs more than a
        new arrangement)."""
        if not self.sorted or len(rows) * 2 < len(self.rows):
            return None
        at = np.searchsorted(self.rows, rows)
        if len(at) and (int(at.max()) >= len(self.rows) or not np.array_equal(self.rows[at], rows)):
            return None
        return at
