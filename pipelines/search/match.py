"""Which rows of a batch of row groups match a filter, without a Python loop over rows.

String columns arrive dictionary-encoded (``LakeFile.read(dictionary=...)``): a filter is
tested once per distinct value of a row group and the answer spread to its rows by index.
Principals, actions, addresses and user agents repeat thousands of times in a row group, so
this is what makes a user-agent substring or an address range cheap (measured in
``bench/event_search.py``). Values are compared as data: equality, a literal substring
(case-insensitive), an address parsed with ``ipaddress``; none is read as a pattern.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.search.model import EventFilter, Network, Position, to_micros

Test = Callable[[pa.Array], np.ndarray]
"""a filter over an array of (distinct) strings: True where a value matches"""


class Matcher:
    """Which rows match one search: the filters over their columns (``filtered``), then the
    window and cursor over ``time`` (``timely``)."""

    def __init__(self, flt: EventFilter, after: Position | None) -> None:
        self.start, self.stop = to_micros(flt.since), to_micros(flt.until)
        self.bound = after.micros if after is not None else None
        self.tests: list[tuple[str, Test]] = [
            (name, _equal(value)) for name, value in flt.equalities().items()
        ]
        if flt.user_agent is not None:
            self.tests.append(("user_agent", _contains(flt.user_agent)))
        if flt.source_ip is not None:
            self.tests.append(("source_ip", _Addresses(flt.source_ip)))

    @property
    def dictionary(self) -> list[str]:
        """The columns to read dictionary-encoded."""
        return [name for name, _ in self.tests]

    def filtered(self, table: pa.Table) -> np.ndarray:
        """A bool per row: every filter holds (all True without filters)."""
        keep = np.ones(table.num_rows, bool)
        for name, test in self.tests:
            if not keep.any():
                break
            keep &= per_value(table[name], test)
        return keep

    def timely(self, time: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """The times in microseconds, and a bool per row: in the window, not after the
        cursor's time."""
        micros = time.combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
        keep = (micros >= self.start) & (micros < self.stop)
        if self.bound is not None:
            keep &= micros <= self.bound
        return micros, keep


def per_value(column: pa.ChunkedArray, test: Test) -> np.ndarray:
    """``test`` over every row of ``column``, run once per distinct value of a dictionary
    chunk; null rows never match."""
    parts = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            hits = np.asarray(test(chunk.dictionary), dtype=bool)
            indices = chunk.indices
            if not len(hits):
                parts.append(np.zeros(len(chunk), bool))
                continue
            if indices.null_count:
                found = hits[indices.fill_null(0).to_numpy(zero_copy_only=False)]
                found &= indices.is_valid().to_numpy(zero_copy_only=False)
            else:
                found = hits[indices.to_numpy(zero_copy_only=False)]
            parts.append(found)
        else:
            parts.append(np.asarray(test(chunk), dtype=bool))
    return np.concatenate(parts) if parts else np.zeros(0, bool)


def _true(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False).astype(bool)


def _equal(value: str) -> Test:
    scalar = pa.scalar(value, pa.string())
    return lambda values: _true(pc.equal(values, scalar))


def _contains(text: str) -> Test:
    return lambda values: _true(pc.match_substring(values, pattern=text, ignore_case=True))


class _Addresses:
    """Whether each text is an address inside a network, each distinct text parsed once per
    search. Names such as ``lambda.amazonaws.com`` (AWS services calling) are never inside.

    An IPv4 network of /8 or longer first keeps only texts starting with its whole fixed
    octets (``198.51.100.``, at most three): exact, since ``ipaddress`` reads IPv4 only as plain
    dotted decimal.
    """

    def __init__(self, network: Network) -> None:
        self.network = network
        self.seen: dict[str, bool] = {}
        octets = min(network.prefixlen // 8, 3) if network.version == 4 else 0
        packed = network.network_address.packed[:octets]
        self.prefix = "".join(f"{b}." for b in packed) if octets else None

    def __call__(self, values: pa.Array) -> np.ndarray:
        out = np.zeros(len(values), bool)
        if self.prefix is not None:
            candidates = np.flatnonzero(_true(pc.starts_with(values, pattern=self.prefix)))
        elif self.network.version == 6:
            candidates = np.flatnonzero(_true(pc.match_substring(values, pattern=":")))
        else:
            candidates = np.flatnonzero(_true(pc.is_valid(values)))
        texts = values.take(pa.array(candidates, pa.int64())).to_pylist()
        for i, text in zip(candidates, texts, strict=True):
            inside = self.seen.get(text)
            if inside is None:
                inside = self.seen[text] = _inside(text, self.network)
            out[i] = inside
        return out


def _inside(text: str, network: Network) -> bool:
    try:
        return ipaddress.ip_address(text) in network
    except ValueError:
        return False
