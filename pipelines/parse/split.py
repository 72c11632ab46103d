"""Detect the input format of a blob by its content and split it into provider records.

Formats (DESIGN.md): CloudTrail S3 log files ``{"Records": [...]}``; LookupEvents results
(``{"Events": [...]}`` or a bare list of such Events, each holding a ``CloudTrailEvent`` JSON
string); EventBridge "AWS API Call via CloudTrail" envelopes; Cloud Logging ``entries:list``
pages ``{"entries": [...]}``; single LogEntry objects; ``gcloud logging read --format=json``
arrays; JSON lines of any of these (Cloud Storage sinks, bare CloudTrail records, a mix);
Pub/Sub push envelopes with a base64 LogEntry. Records come out as raw JSON bytes, still
undecoded, so the normalizer can decode each provider's fields in one typed pass.

Routing of array items and JSON lines uses a cheap substring hint; because attackers control
strings inside records, the hint is only a guess, and the normalizer re-checks any record its
typed decode refuses with :func:`classify`, which looks at real top-level keys only.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Final, Literal

import msgspec

from pipelines.parse.decompress import decompress
from pipelines.rejects import Reject, snippet_of

Kind = Literal["aws", "gcp"]

_ABSENT: Final = msgspec.Raw()
_BOM: Final = b"\xef\xbb\xbf"
_MAX_NESTING: Final = 3
_CLOUDTRAIL_DETAIL_TYPES: Final = "via CloudTrail"
"""EventBridge detail-types whose ``detail`` is a CloudTrail record end with this."""


class _PubSubMessage(msgspec.Struct, gc=False):
    data: str | None = None


class _Probe(msgspec.Struct, gc=False):
    """The top-level keys that tell the formats apart; values stay undecoded."""

    Records: list[msgspec.Raw] | None = None
    Events: list[msgspec.Raw] | None = None
    entries: list[msgspec.Raw] | None = None
    CloudTrailEvent: str | None = None
    detail_type: str | None = msgspec.field(name="detail-type", default=None)
    detail: msgspec.Raw = _ABSENT
    message: _PubSubMessage | None = None
    eventID: msgspec.Raw = _ABSENT
    eventVersion: msgspec.Raw = _ABSENT
    eventSource: msgspec.Raw = _ABSENT
    insertId: msgspec.Raw = _ABSENT
    protoPayload: msgspec.Raw = _ABSENT
    logName: msgspec.Raw = _ABSENT


class _LookupEvent(msgspec.Struct, gc=False):
    CloudTrailEvent: str


_PROBE: Final = msgspec.json.Decoder(_Probe)
_RAW_LIST: Final = msgspec.json.Decoder(list[msgspec.Raw])
_KEYS: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])
_LOOKUP_EVENT: Final = msgspec.json.Decoder(_LookupEvent)
_CONTAINER_START: Final = re.compile(rb'\A\s*\{\s*"(Records|Events|entries)"\s*:\s*\[')
_RECORD_END: Final = re.compile(rb"\}\s*,\s*\{")


@dataclass(slots=True)
class Split:
    """Raw records of each provider with their record index in the blob, and the rejects."""

    source: str
    aws: list[bytes | msgspec.Raw] = field(default_factory=list)
    aws_index: list[int] = field(default_factory=list)
    gcp: list[bytes | msgspec.Raw] = field(default_factory=list)
    gcp_index: list[int] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    def reject(self, index: int | None, reason: str, data: bytes | msgspec.Raw = b"") -> None:
        self.rejects.append(
            Reject(self.source, index, reason, snippet_of(bytes(memoryview(data)[:512])))
        )

    def add(self, kind: Kind, raw: bytes | msgspec.Raw, index: int) -> None:
        if kind == "aws":
            self.aws.append(raw)
            self.aws_index.append(index)
        else:
            self.gcp.append(raw)
            self.gcp_index.append(index)


def split_blob(data: bytes, source: str, *, max_file_bytes: int, max_record_bytes: int) -> Split:
    """Decompress if gzip, detect the format, and split into AWS and GCP raw records."""
    out = Split(source)
    if not data:
        out.reject(None, "empty file (0 bytes)")
        return out
    inflated = decompress(data, max_file_bytes)
    if inflated.error:
        out.reject(None, inflated.error)
        if inflated.too_large:
            return out
    text = inflated.data
    if text.startswith(_BOM):
        text = text[len(_BOM) :]
    body = text.lstrip()
    if not body.rstrip():
        if not inflated.error:
            out.reject(None, "no records: the file holds only whitespace")
        return out
    if body[:1] == b"[":
        _split_array(body, out, max_record_bytes)
    elif body[:1] == b"{" and not _looks_like_lines(body):
        _split_document(body, out, max_record_bytes)
    else:
        _split_lines(body, out, max_record_bytes)
    return out


def classify(raw: bytes | msgspec.Raw) -> Kind | None:
    """Which provider a single record belongs to, by its real top-level keys (not a guess)."""
    try:
        probe = _PROBE.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return None
    if len(probe.insertId) or len(probe.protoPayload):
        return "gcp"
    if len(probe.eventID) or len(probe.eventVersion) or len(probe.eventSource):
        return "aws"
    return None


def _hint(raw: bytes | msgspec.Raw) -> Kind | None:
    """A fast guess from substrings; envelopes and unknowns (None) get the exact probe."""
    data = bytes(raw) if isinstance(raw, msgspec.Raw) else raw
    if b'"detail-type"' in data or b'"CloudTrailEvent"' in data or b'"Records"' in data:
        return None
    if b'"protoPayload"' in data or b'"insertId"' in data:
        return "gcp"
    if b'"eventID"' in data or b'"eventVersion"' in data:
        return "aws"
    return None


def _looks_like_lines(body: bytes) -> bool:
    """JSON lines if one of the first two non-empty lines is a whole object on its own."""
    seen = 0
    start = 0
    while seen < 2:
        end = body.find(b"\n", start)
        if end < 0:
            return False  # a single line is one document
        line = body[start:end].strip()
        start = end + 1
        if not line:
            continue
        seen += 1
        if line[:1] == b"{" and line[-1:] == b"}":
            return True
    return False


def _split_items(items: list[msgspec.Raw] | list[bytes], out: Split, max_record: int) -> None:
    for index, item in enumerate(items):
        if len(item) > max_record:
            out.reject(index, f"record is {len(item)} bytes, over max_record_bytes={max_record}")
            continue
        kind = _hint(item)
        if kind is None:
            _route(item, index, out, max_record, depth=0)
        else:
            out.add(kind, item, index)


def _split_array(body: bytes, out: Split, max_record: int) -> None:
    try:
        items = _RAW_LIST.decode(body)
    except msgspec.ValidationError as exc:
        out.reject(None, f"a JSON array of records was expected: {exc}")
        return
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        items = _salvage(body, b"]", exc, out)
    _split_items(items, out, max_record)


def _split_lines(body: bytes, out: Split, max_record: int) -> None:
    lines = body.split(b"\n")
    for index, line in enumerate(lines):
        if len(line) > max_record:
            out.reject(index, f"line is {len(line)} bytes, over max_record_bytes={max_record}")
            continue
        line = line.strip()
        if not line:
            continue
        kind = _hint(line)
        if kind is None:
            _route(line, index, out, max_record, depth=0)
        else:
            out.add(kind, line, index)


def _split_document(body: bytes, out: Split, max_record: int) -> None:
    try:
        probe = _PROBE.decode(body)
    except msgspec.ValidationError as exc:
        out.reject(None, f"unexpected document shape: {exc}")
        return
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        match = _CONTAINER_START.match(body)
        if match is None:
            out.reject(None, f"malformed JSON: {exc}", body)
            return
        items = _salvage(body[match.end() - 1 :], b"]", exc, out)
        if not items:
            return
        key = match.group(1)
        probe = _Probe(
            Records=items if key == b"Records" else None,
            Events=items if key == b"Events" else None,
            entries=items if key == b"entries" else None,
        )
    container = probe.Records is not None or probe.Events is not None or probe.entries is not None
    if not container and len(body) > max_record:
        out.reject(0, f"record is {len(body)} bytes, over max_record_bytes={max_record}")
        return
    _route_probe(probe, body, None, out, max_record, depth=0)


def _salvage(array: bytes, closing: bytes, exc: Exception, out: Split) -> list[msgspec.Raw]:
    """Keep the complete records before a break in a JSON array (truncated or corrupt input).

    Cuts are tried at record boundaries (``},{``) from the end backwards; a cut inside a record
    or a string leaves unbalanced JSON and is refused by the decoder, so only real record ends
    survive.
    """
    tries = 0
    end = len(array)
    while tries < 200:
        match = None
        for found in _RECORD_END.finditer(array, max(0, end - 65536), end):
            match = found
        if match is None:
            if end <= 65536:
                break
            end -= 65536
            continue
        tries += 1
        candidate = array[: match.start() + 1] + closing
        end = match.start()
        try:
            items = _RAW_LIST.decode(candidate)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
            continue
        out.reject(len(items), f"records from index {len(items)} on are lost: {exc}")
        return items
    # Perhaps only the first record is whole.
    first = array.find(b"}")
    while 0 <= first < len(array) and tries < 400:
        tries += 1
        try:
            items = _RAW_LIST.decode(array[: first + 1] + closing)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
            first = array.find(b"}", first + 1)
            continue
        out.reject(len(items), f"records from index {len(items)} on are lost: {exc}")
        return items
    out.reject(0, f"no complete record could be read: {exc}")
    return []


def _route(raw: bytes | msgspec.Raw, index: int, out: Split, max_record: int, depth: int) -> None:
    try:
        probe = _PROBE.decode(raw)
    except msgspec.ValidationError as exc:
        out.reject(index, f"unexpected record shape: {exc}", raw)
        return
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        out.reject(index, f"malformed JSON: {exc}", raw)
        return
    _route_probe(probe, raw, index, out, max_record, depth)


def _route_probe(
    probe: _Probe,
    raw: bytes | msgspec.Raw,
    index: int | None,
    out: Split,
    max_record: int,
    depth: int,
) -> None:
    """Send one decoded envelope or record where it belongs; ``index`` None = top document."""

    def at(position: int) -> int:
        return position if index is None else index

    if probe.Records is not None:
        _add_all(out, "aws", probe.Records, index, max_record, "record")
    elif probe.entries is not None:
        _add_all(out, "gcp", probe.entries, index, max_record, "entry")
    elif probe.Events is not None:
        for position, item in enumerate(probe.Events):
            _lookup_event(item, at(position), out)
    elif probe.CloudTrailEvent is not None:
        out.add("aws", probe.CloudTrailEvent.encode(), at(0))
    elif probe.detail_type is not None:
        if not probe.detail_type.endswith(_CLOUDTRAIL_DETAIL_TYPES) or not len(probe.detail):
            out.reject(
                at(0), f"EventBridge event {probe.detail_type[:80]!r} carries no CloudTrail record"
            )
        else:
            out.add("aws", probe.detail, at(0))
    elif probe.message is not None:
        _pubsub(probe.message, at(0), out, max_record, depth)
    elif len(probe.insertId) or len(probe.protoPayload):
        out.add("gcp", raw, at(0))
    elif len(probe.eventID) or len(probe.eventVersion) or len(probe.eventSource):
        out.add("aws", raw, at(0))
    else:
        out.reject(
            at(0), f"not a CloudTrail record or LogEntry (top-level keys: {_keys(raw)})", raw
        )


def _add_all(
    out: Split, kind: Kind, items: list[msgspec.Raw], index: int | None, max_record: int, noun: str
) -> None:
    """A container's records, each at its position (or all at ``index``, the container's own
    record index); one over ``max_record`` is rejected. Added as whole lists when none is over:
    a call per record was a third of splitting a CloudTrail file."""
    if not items:
        return
    raws, positions = (out.aws, out.aws_index) if kind == "aws" else (out.gcp, out.gcp_index)
    if max(map(len, items)) <= max_record:
        raws.extend(items)
        positions.extend(range(len(items)) if index is None else [index] * len(items))
        return
    for position, item in enumerate(items):
        at = position if index is None else index
        if len(item) > max_record:
            out.reject(at, f"{noun} is {len(item)} bytes, over max_record_bytes={max_record}")
        else:
            raws.append(item)
            positions.append(at)


def _lookup_event(item: msgspec.Raw, index: int, out: Split) -> None:
    try:
        event = _LOOKUP_EVENT.decode(item)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        out.reject(index, f"LookupEvents event without a CloudTrailEvent string: {exc}", item)
        return
    out.add("aws", event.CloudTrailEvent.encode(), index)


def _pubsub(message: _PubSubMessage, index: int, out: Split, max_record: int, depth: int) -> None:
    if not message.data:
        out.reject(index, "Pub/Sub message has no data")
        return
    try:
        inner = base64.b64decode(message.data, validate=True)
    except (binascii.Error, ValueError) as exc:
        out.reject(index, f"Pub/Sub message data is not base64: {exc}")
        return
    if len(inner) > max_record:
        out.reject(
            index, f"Pub/Sub payload is {len(inner)} bytes, over max_record_bytes={max_record}"
        )
        return
    if depth >= _MAX_NESTING:
        out.reject(index, "envelopes nested too deep")
        return
    _route(inner, index, out, max_record, depth + 1)


def _keys(raw: bytes | msgspec.Raw) -> str:
    try:
        keys = list(_KEYS.decode(raw))
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return "not an object"
    shown = ", ".join(repr(key[:40]) for key in keys[:8])
    return shown + (", ..." if len(keys) > 8 else "")
