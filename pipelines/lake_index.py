"""What one lake partition holds, in memory: id hashes and a content digest per stored event.

Why hashes: the duplicate check of a 10M-event day must stay a small fraction of the 2 GB
budget. Two 64-bit SipHashes make a false "already stored" (a new event dropped) about as
likely as two random UUIDs colliding (~n^2 / 2^129, 1e-25 for 10M ids). Each id also carries
the 64-bit digest of its stored record (``pipelines.provenance.digests``), so a repeat is told
from a different record with the same id without reading the lake: 24 bytes an event.

Runs merge like a binary counter up to ``MAX_RUN`` ids, so adding a batch never rebuilds the
day, and a probe is one sorted search per run (a few runs of ``MAX_RUN`` plus a logarithmic
tail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

_HASH_KEYS: Final = ("functrail-lake-1", "functrail-lake-2")
MAX_RUN: Final = 1 << 21
"""Ids in one sorted run (48 MB with digests): bounds what a merge holds; a 10M-event day is
five full runs, each searched once per append."""

Hashed = tuple[np.ndarray, np.ndarray]
Run = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(first hash, second hash, digest), sorted by first hash"""


class IdIndex:
    """The ids of one kind of record (pulled or pushed) in one partition, with digests."""

    def __init__(self) -> None:
        self._runs: list[Run] = []

    def __len__(self) -> int:
        return sum(len(run[0]) for run in self._runs)

    @staticmethod
    def hashes(ids: pa.Array | pa.ChunkedArray) -> Hashed:
        """The two hashes of each id (uint64 arrays)."""
        values = ids.to_numpy(zero_copy_only=False)
        return tuple(  # type: ignore[return-value]
            pd.util.hash_array(values, hash_key=key, categorize=False) for key in _HASH_KEYS
        )

    def contains(self, hashed: Hashed) -> np.ndarray:
        """A bool per id: already in the index."""
        return self.lookup(hashed)[0]

    def lookup(self, hashed: Hashed) -> tuple[np.ndarray, np.ndarray]:
        """Per id: whether it is in the index, and the digest stored with it (0 if absent).

        The batch is searched in sorted order (one argsort of the batch): neighbouring probes
        then touch neighbouring parts of a run, ~5x faster than random probes into a run of
        millions, which matters once a day is several capped runs.
        """
        first, second = hashed
        order = np.argsort(first, kind="stable")
        first, second = first[order], second[order]
        found = np.zeros(len(first), dtype=bool)
        digest = np.zeros(len(first), dtype=np.uint64)
        for run_first, run_second, run_digest in self._runs:
            left = np.searchsorted(run_first, first, side="left")
            at = np.minimum(left, len(run_first) - 1)
            hit = run_first[at] == first
            exact = hit & (run_second[at] == second)
            digest[exact] = run_digest[at[exact]]
            found |= exact
            # A 64-bit collision inside the run: the same first hash on several rows.
            tied = np.flatnonzero(hit & (at + 1 < len(run_first)))
            tied = tied[run_first[np.minimum(at[tied] + 1, len(run_first) - 1)] == first[tied]]
            for i in tied:
                right = np.searchsorted(run_first, first[i], side="right")
                match = np.flatnonzero(run_second[left[i] : right] == second[i])
                if len(match):
                    found[i] = True
                    digest[i] = run_digest[left[i] + match[0]]
        out_found, out_digest = np.empty_like(found), np.empty_like(digest)
        out_found[order], out_digest[order] = found, digest
        return out_found, out_digest

    def add(self, hashed: Hashed, digests: np.ndarray | None = None) -> None:
        """Add ids (hashes from ``hashes``) not already present, with their digests.

        Runs merge like a binary counter up to ``MAX_RUN`` ids: merging two runs holds both
        and the result at once, so an uncapped last merge of a 10M-event day held ~40 bytes an
        event (400 MB) for a moment; capped, the transient stays ~40 bytes x ``MAX_RUN``.
        """
        first, second = hashed
        if not len(first):
            return
        digest = np.zeros(len(first), np.uint64) if digests is None else digests
        order = np.argsort(first, kind="stable")
        self._runs.append((first[order], second[order], digest[order].astype(np.uint64)))
        while len(self._runs) > 1:
            earlier, later = len(self._runs[-2][0]), len(self._runs[-1][0])
            if earlier > 2 * later or earlier + later > MAX_RUN:
                break
            b, a = self._runs.pop(), self._runs.pop()
            self._runs.append(_merge_runs(a, b))


@dataclass
class PartitionIndex:
    """A partition's pulled and pushed ids (kept apart: a push must never pass for a pull),
    and the files they were read from (a file of another writer is read once it appears)."""

    pulled: IdIndex = field(default_factory=IdIndex)
    pushed: IdIndex = field(default_factory=IdIndex)
    files: set[str] = field(default_factory=set)

    def add(self, hashed: Hashed, digests: np.ndarray, pushed: np.ndarray) -> None:
        """Add the ids each index lacks yet (``pushed``: a bool per id)."""
        for index, mask in ((self.pulled, ~pushed), (self.pushed, pushed)):
            if mask.any():
                part = (hashed[0][mask], hashed[1][mask])
                fresh = ~index.contains(part)
                index.add((part[0][fresh], part[1][fresh]), digests[mask][fresh])


def _merge_runs(a: Run, b: Run) -> Run:
    """Two runs sorted by first hash as one, by placing each element at its merged position:
    no sort, and the extra memory is the output plus two position arrays, not four copies."""
    at_a = np.arange(len(a[0])) + np.searchsorted(b[0], a[0], side="left")
    at_b = np.arange(len(b[0])) + np.searchsorted(a[0], b[0], side="right")
    merged = []
    for i in range(3):
        out = np.empty(len(a[i]) + len(b[i]), dtype=a[i].dtype)
        out[at_a], out[at_b] = a[i], b[i]
        merged.append(out)
    return merged[0], merged[1], merged[2]
