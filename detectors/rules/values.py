"""A field's values over a batch's rows, as Arrow text: what every matcher compares."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True, slots=True)
class Values:
    """A field's values over ``n`` rows, exploded: element ``i`` belongs to row ``owner[i]``.

    ``owner`` is None when there is exactly one element per row (a column). ``text`` holds the
    values as strings (bools as ``true``/``false``), null where the value is null.
    """

    n: int
    owner: np.ndarray | None
    text: pa.Array

    def any_per_row(self, element_match: np.ndarray) -> np.ndarray:
        """Reduce an element-level match to rows: a row matches if any of its elements does."""
        return any_per_row(self.n, self.owner, element_match)

    def present(self) -> np.ndarray:
        """Rows with at least one non-null value."""
        valid = pc.is_valid(self.text).to_numpy(zero_copy_only=False)
        return self.any_per_row(valid)

    def take(self, rows: np.ndarray) -> Values:
        """The same field over ``rows`` (positions into these ``n`` rows, distinct)."""
        if self.owner is None:
            return Values(len(rows), None, self.text.take(pa.array(rows, pa.int64())))
        position = np.full(self.n, -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        mapped = position[self.owner]
        keep = mapped >= 0
        return Values(len(rows), mapped[keep], self.text.filter(pa.array(keep)))

    @staticmethod
    def union(parts: list[Values]) -> Values:
        """Every element of several fields over the same rows (a name that reads several)."""
        if len(parts) == 1:
            return parts[0]
        n = parts[0].n
        owners = [np.arange(n) if p.owner is None else p.owner for p in parts]
        texts = pa.concat_arrays([p.text.cast(pa.string()) for p in parts])
        return Values(n, np.concatenate(owners).astype(np.int64), texts)


def any_per_row(n: int, owner: np.ndarray | None, element_match: np.ndarray) -> np.ndarray:
    """Per row of ``n``: does any of its elements match? Element ``i`` belongs to row
    ``owner[i]`` (None: element ``i`` is row ``i``)."""
    if owner is None:
        return element_match
    out = np.zeros(n, dtype=bool)
    out[owner[element_match]] = True
    return out


def nested_strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON object or list, at any depth (a policy document logged as a
    string inside ``requestParameters`` is one of them, with its own quotes)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from nested_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from nested_strings(item)


def to_text(value: Any) -> str | None:
    """A raw JSON leaf as the text Sigma compares against."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
