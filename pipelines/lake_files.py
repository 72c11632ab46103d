"""Writing one lake file: rows in the lake's order, in small row groups, whole or not at all.

Local files go to a dot-file readers ignore, are fsynced and renamed over the final name (so a
rewrite of a file replaces it atomically), and the folder is fsynced: what the lake says it
holds survives a power cut, which the push path's "acknowledged means durable" relies on once
its log is drained. S3 objects are invisible until their upload completes: already atomic.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipelines.private import private_file

FILE_ORDER: Final = (("account", "ascending"), ("principal", "ascending"), ("time", "ascending"))
"""Row order inside a file: one account's (and one principal's) rows share few row groups."""
ROW_GROUP_ROWS: Final = 8192
"""Small enough that reading one account of a 50k-event file skips most of it."""
TMP_PREFIX: Final = "."


def write_whole(
    fs: pafs.FileSystem, folder: str, name: str, table: pa.Table, *, local: bool
) -> str:
    """``table`` as ``folder/name`` (replacing a file of that name); returns the path."""
    final = f"{folder}/{name}"
    replace_whole(fs, folder, final, lambda path: write_sorted(table, path, fs), local=local)
    return final


def replace_whole(
    fs: pafs.FileSystem, folder: str, final: str, write: Callable[[str], None], *, local: bool
) -> None:
    """Put a file at ``final`` by ``write(path)``, whole or not at all.

    On a local lake it is written to a hidden temporary file beside it (readers skip
    ``TMP_PREFIX``), made owner-only, flushed, renamed over ``final`` and the folder flushed, so a
    crash leaves the old file or the new one; an object store's upload is whole by itself.
    """
    if not local:
        fs.create_dir(folder, recursive=True)
        write(final)
        return
    temp = f"{folder}/{TMP_PREFIX}{uuid.uuid4().hex}.tmp"
    try:
        write(temp)
        private_file(temp)
        fsync(temp)
        os.replace(temp, final)
        fsync(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def fsync(path: str) -> None:
    """Flush a file or folder to disk: what the lake says it holds survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_sorted(table: pa.Table, path: str, fs: pafs.FileSystem) -> None:
    """``table`` as zstd Parquet in ``FILE_ORDER``, one row group at a time: the sorted copy
    of the batch is never whole, only the sort order (8 bytes a row) and one group."""
    order = pc.sort_indices(table, sort_keys=list(FILE_ORDER)).to_numpy().astype(np.int64)
    batches = table.to_batches()  # zero-copy pieces: take on a chunked table concatenates
    starts = np.cumsum([0] + [batch.num_rows for batch in batches], dtype=np.int64)
    with pq.ParquetWriter(path, table.schema, filesystem=fs, compression="zstd") as writer:
        for first in range(0, table.num_rows, ROW_GROUP_ROWS):
            group = _take_rows(batches, starts, order[first : first + ROW_GROUP_ROWS])
            writer.write_table(group.cast(table.schema), row_group_size=ROW_GROUP_ROWS)


def _take_rows(batches: list[pa.RecordBatch], starts: np.ndarray, rows: np.ndarray) -> pa.Table:
    """The rows at table positions ``rows`` (in that order) of the batches starting at
    ``starts``. ``Table.take`` would first concatenate every chunked column whole (the raw
    JSON of the batch, ~100 MB at a flush); this takes from each batch what it holds."""
    which = np.searchsorted(starts, rows, side="right") - 1
    by_batch = np.argsort(which, kind="stable")
    pieces = []
    for b in np.unique(which):
        local = rows[by_batch][which[by_batch] == b] - starts[b]
        pieces.append(batches[b].take(pa.array(local)))
    back = np.empty_like(by_batch)
    back[by_batch] = np.arange(len(by_batch))
    return pa.Table.from_batches(pieces).take(pa.array(back))
