"""Raw CloudTrail fields the typed decode reads anyway, carried beside the event columns.

SigmaHQ's CloudTrail rules name identity fields that the event model folds into ``principal``
(``userIdentity.type: AssumedRole``, ``userIdentity.arn|contains: assumed-role``,
``sessionIssuer.type: Role``) and ``eventType``. Read from the raw record, each costs a pass
over the whole raw text and a decode of every row that pass lets through: ~0.9 s of CPU of a
288k-event ``functrail detect``, a third of its rules. The normalizer decodes these fields for
the principal anyway, so ``functrail detect`` asks for them as columns (``carry=True``) and the
rules compare them like any column.

A carried value is exactly what reading its path from the raw record gives, on the rows marked
``KNOWN``: CloudTrail rows whose value at every carried path is a string or absent (null reads
as absent both ways). Elsewhere (Google Cloud rows, an identity the decode dropped for a
mistyped field, an ``eventType`` that is not a string) rules read the raw record as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa

from pipelines.events import EVENT_SCHEMA
from pipelines.normalize.decode import Decoded, rows_dropping
from pipelines.parse.schema import AwsRecord, SessionContext

PATHS: Final = (
    "userIdentity.type",
    "userIdentity.arn",
    "userIdentity.invokedBy",
    "userIdentity.sessionContext.sessionIssuer.type",
    "eventType",
)
"""Raw paths carried as columns (each column is named by its path)."""
KNOWN: Final = "functrail:carried"
"""True on rows whose carried columns are exactly their raw values."""
SCHEMA: Final = pa.schema(
    [*(pa.field(path, pa.string()) for path in PATHS), pa.field(KNOWN, pa.bool_(), nullable=False)]
)


def _strings(values: Sequence[Any]) -> tuple[pa.Array, np.ndarray]:
    """Values decoded as ``Any`` as a string column, and the rows holding something else (a
    number, an object: not representable, so not known)."""
    try:
        return pa.array(values, pa.string()), np.zeros(len(values), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        other = np.fromiter(
            (v is not None and v.__class__ is not str for v in values), bool, len(values)
        )
        kept = [None if bad else v for v, bad in zip(values, other.tolist(), strict=True)]
        return pa.array(kept, pa.string()), other


def with_aws(
    table: pa.Table,
    decoded: Decoded[AwsRecord],
    identity: tuple[list[str | None], list[str | None], list[str | None]],
    sessions: Mapping[int, SessionContext],
    event_types: Sequence[Any],
) -> pa.Table:
    """``table`` (the event table of ``decoded``, row for row) with the carried columns, from
    what ``aws.table`` read of the records: the ``userIdentity`` type, arn and invokedBy
    columns, the session context of each row that has one, and the ``eventType`` values."""
    issuer_types: list[Any] = [None] * table.num_rows
    for row, context in sessions.items():
        if context.sessionIssuer is not None:
            issuer_types[row] = context.sessionIssuer.type
    issuer, issuer_other = _strings(issuer_types)
    event_type, type_other = _strings(event_types)
    known = ~(issuer_other | type_other)
    # A record kept without a mistyped identity field reads null here, its raw value is not.
    known[rows_dropping(decoded, ("userIdentity",))] = False
    strings = [pa.array(values, pa.string()) for values in identity]
    return _appended(table, [*strings, issuer, event_type, pa.array(known)])


def with_unknown(table: pa.Table) -> pa.Table:
    """``table`` with carried columns that say nothing (Google Cloud rows: no such paths in
    the typed decode; a rule reads their raw records)."""
    n = table.num_rows
    columns = [pa.nulls(n, pa.string()) for _ in PATHS]
    return _appended(table, [*columns, pa.array(np.zeros(n, dtype=bool))])


def empty() -> pa.Table:
    """An empty event table with the carried columns."""
    return _appended(EVENT_SCHEMA.empty_table(), [pa.array([], f.type) for f in SCHEMA])


def split(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """A carrying table -> (its event columns, its carried columns), row for row."""
    return table.select(EVENT_SCHEMA.names), table.select(SCHEMA.names)


def _appended(table: pa.Table, columns: Sequence[pa.Array]) -> pa.Table:
    for field, column in zip(SCHEMA, columns, strict=True):
        table = table.append_column(field, column)
    return table
