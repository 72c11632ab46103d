"""The vectorized half of normalization, shared by both providers.

Per-record Python work is limited to pulling decoded fields into lists; everything that can be
computed on a whole column (timestamps, action names, categories, read-only flags) is done here
with pyarrow compute, once per batch, and on distinct values only where a Python function is
unavoidable (the category tables).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.events import EVENT_SCHEMA
from pipelines.normalize.categories import ACCESS, MODIFICATION, category_of

_TIME: Final = pa.timestamp("us", tz="UTC")
_SEP: Final = "\x1f"


def parse_times(values: Sequence[str]) -> pa.Array:
    """ISO 8601 strings to UTC microseconds; unparseable values become null (and get rejected)."""
    strings = pa.array(values, pa.string())
    try:
        return pc.cast(strings, pa.timestamp("ns", tz="UTC")).cast(_TIME, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        parsed = pd.to_datetime(
            pd.Series(values, dtype=object), errors="coerce", utc=True, format="ISO8601"
        )
        return pa.array(parsed.astype("datetime64[us, UTC]"), _TIME)


def null_rows(values: pa.Array, index: list[int]) -> list[int]:
    """``index`` at the rows where ``values`` is null (most slices have none: no compute call)."""
    if not values.null_count:
        return []
    return [index[i] for i in pc.indices_nonzero(pc.is_null(values)).to_pylist()]


def map_distinct(values: pa.Array, function: Callable[[Any], Any], result: pa.DataType) -> pa.Array:
    """Apply a Python function to each distinct value only, then spread it over the column."""
    encoded = pc.dictionary_encode(values)
    mapped = pa.array([function(value) for value in encoded.dictionary.to_pylist()], result)
    return mapped.take(encoded.indices)


def categories(services: pa.Array, actions: pa.Array) -> pa.Array:
    """Category of every (service, action) pair, looked up once per distinct pair."""
    pairs = pc.binary_join_element_wise(
        services, actions, _SEP, null_handling="replace", null_replacement=""
    )

    def lookup(pair: str) -> str:
        service, _, action = pair.partition(_SEP)
        return category_of(service, action)

    return map_distinct(pairs, lookup, pa.string())


def read_only_from(
    logged: pa.Array, category: pa.Array, *, writes_excluded: pa.Array | None = None
) -> pa.Array:
    """The logged read-only flag where there is one, else whether the action is a read.

    ``writes_excluded`` marks rows (GCP data-access logs) that are reads unless the action is a
    modification.
    """
    if not logged.null_count:  # CloudTrail logs the flag on nearly every record
        return logged
    derived = pc.equal(category, ACCESS)
    if writes_excluded is not None:
        derived = pc.or_(derived, pc.and_(writes_excluded, pc.not_equal(category, MODIFICATION)))
    return pc.if_else(pc.is_null(logged), derived, logged)


def table(columns: dict[str, pa.Array | Sequence[Any]], times: pa.Array) -> pa.Table:
    """One Arrow table in the event schema from finished columns."""
    arrays = []
    for name in EVENT_SCHEMA.names:
        column = times if name == "time" else columns.get(name)
        type_ = EVENT_SCHEMA.field(name).type
        if column is None:  # origin: set by the caller, who knows the blob
            column = pa.nulls(len(times), type_)
        arrays.append(column if isinstance(column, pa.Array) else pa.array(column, type_))
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)
