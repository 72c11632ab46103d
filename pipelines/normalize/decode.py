"""Typed decoding of raw records: the whole batch in one call, record by record only on failure.

The fast path joins a blob's records into one JSON array and decodes it with a typed msgspec
decoder (one C call for thousands of records). If any record is mistyped the call fails as a
whole, so it is repeated per record and only the bad ones come back as failures, with
msgspec's message naming the field (``Expected `str`, got `int` - at `$.eventTime```).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

import msgspec
import numpy as np
import pyarrow as pa

T = TypeVar("T")

_RAW_LIST: Final = msgspec.json.Decoder(list[msgspec.Raw])
_WHITESPACE: Final = (b"\n", b'": ', b'", "', b"\r", b"\t", b"{ ", b"[ ")
"""Signs of pretty-printed input (compact CloudTrail files show none of them)."""

Raw = bytes | msgspec.Raw


@dataclass(slots=True)
class Decoded(Generic[T]):
    """Records that decoded, their raw bytes and record indexes, and the ones that did not."""

    records: list[T] = field(default_factory=list)
    raws: list[Raw] = field(default_factory=list)
    index: list[int] = field(default_factory=list)
    failures: list[tuple[int, Raw, str]] = field(default_factory=list)
    _raw_column: pa.Array | None = None

    def raw_column(self) -> pa.Array:
        """The raw records as an Arrow string column (the cast checks they are valid UTF-8)."""
        if self._raw_column is None:
            self._raw_column = _binary(self.raws).cast(pa.string())
        return self._raw_column


def _binary(raws: list[Raw]) -> pa.Array:
    """An Arrow binary column from bytes or msgspec.Raw views: one copy, offsets from lengths."""
    lengths = np.fromiter((len(raw) for raw in raws), dtype=np.int32, count=len(raws))
    offsets = np.zeros(len(raws) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = pa.py_buffer(b"".join(raws))
    return pa.Array.from_buffers(pa.binary(), len(raws), [None, pa.py_buffer(offsets), data])


def _compact(raw: Raw) -> Raw:
    try:
        return msgspec.json.format(bytes(raw), indent=-1)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return raw


def decode_all(
    one: msgspec.json.Decoder[T],
    many: msgspec.json.Decoder[list[T]],
    raws: list[Raw],
    index: list[int],
) -> Decoded[T]:
    """Decode ``raws`` with ``many`` at once, falling back to ``one`` per record on any error.

    Raw records are re-emitted compact (no insignificant whitespace) when the input was
    pretty-printed, so ``raw`` is the same text however the file was laid out.
    """
    if not raws:
        return Decoded()
    joined = b"[" + b",".join(raws) + b"]"
    # Files are written one way throughout: the first record tells (scanning all costs 5%).
    first = bytes(raws[0])
    pretty = any(mark in first for mark in _WHITESPACE)
    if pretty:
        try:
            compact = msgspec.json.format(joined, indent=-1)
            split: list[Raw] = list(_RAW_LIST.decode(compact))
            if len(split) == len(raws):
                joined, raws, pretty = compact, split, False
        except (msgspec.DecodeError, UnicodeDecodeError):
            pass  # some record is malformed: the per-record path compacts the good ones
    try:
        records = many.decode(joined)
        # A JSON line like `{..},{..}` is two values once joined: then go record by record.
        if len(records) == len(raws):
            return _utf8_checked(Decoded(records, raws, index))
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        pass
    out: Decoded[T] = Decoded()
    for raw, position in zip(raws, index, strict=True):
        try:
            record = one.decode(raw)
        except msgspec.ValidationError as exc:
            out.failures.append((position, raw, str(exc)))
            continue
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            out.failures.append((position, raw, f"malformed JSON: {exc}"))
            continue
        out.records.append(record)
        out.raws.append(_compact(raw) if pretty else raw)
        out.index.append(position)
    return _utf8_checked(out)


def _utf8_checked(decoded: Decoded[T]) -> Decoded[T]:
    """Move records that are not valid UTF-8 (hidden in parts msgspec skipped) to failures."""
    try:
        decoded.raw_column()
    except pa.ArrowInvalid:
        pass
    else:
        return decoded
    out: Decoded[T] = Decoded(failures=decoded.failures)
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
