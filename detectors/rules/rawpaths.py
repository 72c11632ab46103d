"""Dotted paths read out of raw JSON records, decoding only the keys on those paths.

Rules read a few paths (``userIdentity.type``, ``requestParameters.layers``) of the rows their
column prefilter lets through; a rule that has no column condition (SigmaHQ's
``userIdentity.type: AssumedRole``) lets every row of its provider through. ``PathDecoder``
decodes a record into msgspec Structs that hold only the keys on the wanted paths, skipping the
rest of the text: about 7x cheaper than ``orjson.loads`` of the whole record (measured on a
simulated day's CloudTrail records, 1 kB each: 0.08 s vs 0.55 s for 32k records).

``walk`` gives the same leaves from a decoded Struct as from the fully parsed record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from operator import attrgetter
from typing import Any, ClassVar, Union

import msgspec

_ABSENT: Any = msgspec.UNSET


def walk(record: Any, parts: list[str]) -> list[Any]:
    """Leaves at a dotted path; a list on the way fans out, nested lists too (Sigma: any
    element may match).

    ``record`` is a parsed JSON record or a ``PathDecoder`` result (Structs of the path keys).
    """
    # Most paths descend through objects to one value: follow them straight, and fan out
    # through lists only when one is met (a third of the per-row cost of the general walk).
    node = record
    for part in parts:
        if node.__class__ is dict:
            node = node.get(part, _ABSENT)
        elif isinstance(node, msgspec.Struct):
            attr = type(node).keys.get(part)  # type: ignore[attr-defined]
            node = _ABSENT if attr is None else getattr(node, attr)
        elif isinstance(node, list | dict):  # a list to fan out through (or a dict subclass)
            return _walk_lists(record, parts)
        else:
            return []
        if node is _ABSENT:
            return []
    return list(node) if node.__class__ is list else [node]


def _walk_lists(record: Any, parts: list[str]) -> list[Any]:
    """``walk`` through lists on the way: every element is followed."""
    current = [record]
    for part in parts:
        nxt: list[Any] = []
        for node in _flat(current):
            value = _child(node, part)
            if value is not _ABSENT:
                nxt.append(value)
        current = nxt
        if not current:
            return []
    leaves: list[Any] = []
    for node in current:
        if isinstance(node, list):
            leaves.extend(node)
        else:
            leaves.append(node)
    return leaves


def _flat(nodes: list[Any]) -> Iterator[Any]:
    for node in nodes:
        if isinstance(node, list):
            yield from _flat(node)
        else:
            yield node


def _child(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return node.get(key, _ABSENT)
    if isinstance(node, msgspec.Struct):
        attr = type(node).keys.get(key)  # type: ignore[attr-defined]
        return _ABSENT if attr is None else getattr(node, attr)
    return _ABSENT


class _Node(msgspec.Struct, gc=False):
    """Base of the generated Structs: ``keys`` maps a JSON key to its attribute."""

    keys: ClassVar[dict[str, str]] = {}


def _struct(tree: dict[str, Any], depth: int = 0) -> Any:
    """A Struct type decoding the keys of ``tree`` (a subtree of None is a leaf: any value)."""
    fields: list[tuple[str, Any, Any]] = []
    keys: dict[str, str] = {}
    for n, (key, sub) in enumerate(sorted(tree.items())):
        attr = f"k{n}"
        keys[key] = attr
        if sub is None:
            kind: Any = Any
        else:
            inner = _struct(sub, depth + 1)
            # what a path may meet on its way: an object, a list of them, or a scalar (a field
            # logged with an unexpected type); anything else falls back to the full parse
            kind = Union[inner, list[inner], str, int, float, bool, None]  # type: ignore[valid-type]  # noqa: UP007
        fields.append((attr, kind, msgspec.field(name=key, default=_ABSENT)))
    return msgspec.defstruct(
        f"Path{depth}", fields, bases=(_Node,), namespace={"keys": keys}, gc=False
    )


class PathDecoder:
    """Decodes records keeping only the keys on ``paths`` (None when a record does not fit:
    the caller parses it whole instead)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = frozenset(paths)
        tree: dict[str, Any] = {}
        for path in sorted(self.paths, key=len):
            node = tree
            parts = path.split(".")
            for i, part in enumerate(parts):
                if part in node and node[part] is None:
                    break  # a shorter path already reads this whole value
                if i == len(parts) - 1:
                    node[part] = None
                else:
                    node = node.setdefault(part, {})
        root = _struct(tree)
        self._decoder = msgspec.json.Decoder(root)
        self._getters = {path: _getter(root, path.split(".")) for path in self.paths}

    def leaves(self, decoded: Any, path: str) -> list[Any]:
        """``walk(decoded, path)`` for a result of ``decode``: one C-level attribute chain
        when the path meets only objects (most rows), the general walk otherwise."""
        get = self._getters.get(path)
        if get is None:
            return walk(decoded, path.split("."))
        try:
            value = get(decoded)
        except AttributeError:  # a list, null or scalar on the way: fan out or nothing
            return walk(decoded, path.split("."))
        if value is _ABSENT:
            return []
        return list(value) if value.__class__ is list else [value]

    def decode(self, raw: str | bytes | memoryview) -> Any:
        try:
            return self._decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None


def _getter(struct: Any, parts: list[str]) -> Any:
    """``attrgetter`` of the generated attribute names along ``parts`` (None when a shorter
    path reads the whole value: ``walk`` handles that one)."""
    attrs: list[str] = []
    for i, part in enumerate(parts):
        attrs.append(struct.keys[part])
        if i < len(parts) - 1:
            inner = [
                t
                for t in getattr(struct.__annotations__.get(attrs[-1]), "__args__", ())
                if isinstance(t, type) and not hasattr(t, "__origin__") and issubclass(t, _Node)
            ]
            if not inner:
                return None
            struct = inner[0]
    return attrgetter(".".join(attrs))


@lru_cache(maxsize=64)
def decoder_for(paths: frozenset[str]) -> PathDecoder:
    """One decoder per set of paths (a batch's rules ask for the same few sets)."""
    return PathDecoder(paths)
