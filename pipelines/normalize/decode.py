"""Typed decoding of raw records: the whole batch in one call, record by record only on failure.

The fast path concatenates a slice's records into one buffer and decodes it with a typed msgspec
decoder's ``decode_lines`` (one C call for thousands of records; it reads JSON values one after
another, separated by whitespace or nothing). The same buffer is the raw column's data, so the
records are copied once. If any record is mistyped the call fails as a whole, so it is repeated
per record. A record whose mistyped field is optional is decoded again without it
(``tolerate``): kept, with the field named in ``Decoded.dropped``. Only a record missing a
required field, or with one mistyped, comes back as a failure, with msgspec's message naming
the field (``Expected `str`, got `int` - at `$.eventTime```).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

import msgspec
import numpy as np
import pyarrow as pa

T = TypeVar("T")

_RAW_LIST: Final = msgspec.json.Decoder(list[msgspec.Raw])
_WHITESPACE: Final = (b"\n", b'": ', b'", "', b"\r", b"\t", b"{ ", b"[ ")
"""Signs of pretty-printed input (compact CloudTrail files show none of them)."""
_AT: Final = re.compile(r"^(?P<reason>.*?) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
"""msgspec's ``<reason> - at `$.a.b[0].c``` (no ``at`` when the record itself is at fault)."""
_MAX_DROPS: Final = 16
"""Fields one record may lose before it is rejected instead (the schemas read fewer)."""

Raw = bytes | msgspec.Raw


@dataclass(slots=True)
class Decoded(Generic[T]):
    """Records that decoded, their raw bytes and record indexes, and the ones that did not."""

    records: list[T] = field(default_factory=list)
    raws: list[Raw] = field(default_factory=list)
    index: list[int] = field(default_factory=list)
    failures: list[tuple[int, Raw, str]] = field(default_factory=list)
    dropped: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    """Record index -> (field path, reason) of each optional field it was decoded without."""
    _raw_column: pa.Array | None = None
    _rows: dict[int, int] | None = None
    _joined: bytes | None = None
    """``raws`` concatenated, when the fast path decoded them: the raw column's data."""

    def rows(self) -> dict[int, int]:
        """Record index -> row in ``records`` (built once, only asked for when fields were
        dropped: retried records make ``index`` not ascending)."""
        if self._rows is None:
            self._rows = {position: row for row, position in enumerate(self.index)}
        return self._rows

    def raw_column(self) -> pa.Array:
        """The raw records as an Arrow string column (the cast checks they are valid UTF-8)."""
        if self._raw_column is None:
            self._raw_column = _binary(self.raws, self._joined).cast(pa.string())
            self._joined = None
        return self._raw_column


def _binary(raws: list[Raw], joined: bytes | None = None) -> pa.Array:
    """An Arrow binary column from bytes or msgspec.Raw views: offsets from lengths, data from
    ``joined`` (``raws`` concatenated) or one copy of them."""
    lengths = np.fromiter(map(len, raws), dtype=np.int32, count=len(raws))
    offsets = np.zeros(len(raws) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = pa.py_buffer(b"".join(raws) if joined is None else joined)
    return pa.Array.from_buffers(pa.binary(), len(raws), [None, pa.py_buffer(offsets), data])


def _array_of(raws: list[Raw]) -> bytes:
    """``[r1,r2,...]`` in one copy of the records (``b"[" + joined + b"]"`` made three)."""
    if len(raws) == 1:
        return b"[" + bytes(raws[0]) + b"]"
    return b",".join([b"[" + bytes(raws[0]), *raws[1:-1], bytes(raws[-1]) + b"]"])


def _compact(raw: Raw) -> Raw:
    try:
        return msgspec.json.format(bytes(raw), indent=-1)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return raw


def decode_all(
    one: msgspec.json.Decoder[T],
    raws: list[Raw],
    index: list[int],
    required: frozenset[str] = frozenset(),
) -> Decoded[T]:
    """Decode ``raws`` at once with ``one.decode_lines``, falling back to ``one`` per record on
    any error.

    A record that fails on a field other than the ``required`` ones (field paths) is decoded
    again without that field (``tolerate``, ~7 us a record). The fallback costs little more than
    the batch call (msgspec decodes 2,000 CloudTrail records in 2.4 ms at once, 2.8 ms one by
    one); decoding the runs between failing records in batch measured slower (7.4 vs 4.8 ms
    with 1% of them mistyped), each failure re-reading what precedes it.

    The batch call reads the records concatenated with nothing between them (JSON objects end
    where they close): that buffer is then the raw column's data, where joining them into a
    JSON array for the decode took a second copy (0.25 s of CPU at 268k records). A record
    that is two values, or none, changes the count and sends the slice record by record.

    Raw records are re-emitted compact (no insignificant whitespace) when the input was
    pretty-printed, so ``raw`` is the same text however the file was laid out; a tolerated
    record's ``raw`` is the record as logged, never the edited copy.
    """
    if not raws:
        return Decoded()
    # Files are written one way throughout: the first record tells (scanning all costs 5%).
    first = bytes(raws[0])
    pretty = any(mark in first for mark in _WHITESPACE)
    if pretty:
        try:
            compact = msgspec.json.format(_array_of(raws), indent=-1)
            split: list[Raw] = list(_RAW_LIST.decode(compact))
            if len(split) == len(raws):
                raws, pretty = split, False
        except (msgspec.DecodeError, UnicodeDecodeError):
            pass  # some record is malformed: the per-record path compacts the good ones
    joined = b"".join(raws)
    try:
        records = one.decode_lines(joined)
        # A JSON line like `{..} {..}` is two values once joined: then go record by record.
        if len(records) == len(raws):
            return _utf8_checked(Decoded(records, raws, index, _joined=joined))
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        pass
    del joined
    out: Decoded[T] = Decoded()
    for raw, position in zip(raws, index, strict=True):
        try:
            record = one.decode(raw)
        except msgspec.ValidationError as exc:
            _tolerated(out, one, _compact(raw) if pretty else raw, position, str(exc), required)
            continue
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            out.failures.append((position, raw, f"malformed JSON: {exc}"))
            continue
        out.records.append(record)
        out.raws.append(_compact(raw) if pretty else raw)
        out.index.append(position)
    return _utf8_checked(out)


def _tolerated(
    out: Decoded[T],
    one: msgspec.json.Decoder[T],
    raw: Raw,
    position: int,
    error: str,
    required: frozenset[str],
) -> None:
    """Add a record the typed decode refused: kept without its mistyped fields, or a failure."""
    kept = tolerate(one, raw, error, required)
    if isinstance(kept, str):
        out.failures.append((position, raw, kept))
        return
    record, drops = kept
    out.records.append(record)
    out.raws.append(raw)
    out.index.append(position)
    out.dropped[position] = drops


def tolerate(
    one: msgspec.json.Decoder[T], raw: Raw, error: str, required: frozenset[str]
) -> tuple[T, list[tuple[str, str]]] | str:
    """The record decoded without the optional fields it is mistyped in, and what it lost
    (field path, msgspec's reason); or the reason it must be rejected.

    Each pass nulls the field msgspec named (up to its first list index or map key:
    ``resources[0].ARN`` drops ``resources``) in a generic copy and decodes that copy again,
    so a record with two bad fields loses both. Costs only records that fail the typed decode.
    """
    try:
        document = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return f"malformed JSON: {exc}"
    drops: list[tuple[str, str]] = []
    while True:
        found = _AT.match(error)
        path = found["path"].split("[", 1)[0].lstrip(".") if found else ""
        if not path or path in required or len(drops) >= _MAX_DROPS:
            return error
        if not _set_null(document, path.split(".")):
            return error
        drops.append((path, found["reason"] if found else error))
        try:
            return one.decode(msgspec.json.encode(document)), drops
        except msgspec.ValidationError as exc:
            error = str(exc)


def _set_null(document: object, keys: list[str]) -> bool:
    """Set ``document[k1][k2]...`` to null; False when the path is not there (nothing done)."""
    node = document
    for key in keys[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict) or keys[-1] not in node:
        return False
    node[keys[-1]] = None
    return True


def rows_dropping(decoded: Decoded[T], fields: tuple[str, ...]) -> list[int]:
    """Rows (positions in ``decoded.records``) of records decoded without one of ``fields``:
    the field itself, a part of it, or an object holding it was dropped. The provider tables
    null the columns such a field decides."""
    rows: list[int] = []
    for position, drops in decoded.dropped.items():
        if any(_overlaps(name, f) for name, _ in drops for f in fields):
            row = kept_row(decoded, position)
            if row is not None:
                rows.append(row)
    return sorted(rows)


def kept_row(decoded: Decoded[T], position: int) -> int | None:
    """The row of the record at ``position`` among the kept ones (None: it was not kept)."""
    return decoded.rows().get(position)


def _overlaps(dropped: str, wanted: str) -> bool:
    return dropped == wanted or dropped.startswith(wanted + ".") or wanted.startswith(dropped + ".")


def _utf8_checked(decoded: Decoded[T]) -> Decoded[T]:
    """Move records that are not valid UTF-8 (hidden in parts msgspec skipped) to failures."""
    try:
        decoded.raw_column()
    except pa.ArrowInvalid:
        pass
    else:
        return decoded
    out: Decoded[T] = Decoded(failures=decoded.failures, dropped=decoded.dropped)
    for record, raw, position in zip(decoded.records, decoded.raws, decoded.index, strict=True):
        try:
            bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            out.failures.append((position, raw, f"not valid UTF-8 at byte {exc.start}"))
            continue
        out.records.append(record)
        out.raws.append(raw)
        out.index.append(position)
    return out
