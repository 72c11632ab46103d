"""A cache of compiled rule files: a run reads each rule file's plan instead of parsing its YAML
through pySigma and compiling it again (half a second for the pack and SigmaHQ's cloud rules,
most of ``functrail detect``'s start-up on a day of logs).

An entry is JSON, never pickle or marshal: a rule file's rules (metadata, tests, the compiled
condition tree with its pySigma values) and load errors, written as tagged JSON that only the
fixed list of classes below can be read back into, by setting their attributes (no constructor,
no import, no code named by the data runs). An entry is keyed by the file's path and bytes, the
installed functrail and pySigma versions and the rule engine's own source, so any change
recompiles. An entry that does not parse, fails its checksum, has another key or names a class
outside the list is ignored, and the file is compiled and its entry written again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from functools import cache
from importlib import metadata
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson

from detectors.rules.compile import Leaf, Node
from detectors.rules.model import Rule, RuleMeta, RuleTests
from detectors.rules.sigma_rules import (
    CorrelationCondition,
    CorrelationOperator,
    CorrelationSpec,
    CorrelationTimespan,
    CorrelationType,
    SigmaCorrelation,
    SigmaDetectionRule,
)
from pipelines.atomic import write_atomic

log = logging.getLogger(__name__)

FORMAT = 2
"""Bumped when the layout of an entry changes (the engine's source is in the key anyway).
2: a correlation is the engine's ``CorrelationSpec``, not pySigma's correlation rule."""

_ENGINE_SOURCES = (
    Path(__file__).resolve().parent,  # detectors/rules/*.py
    Path(__file__).resolve().parents[2] / "pipelines" / "normalize" / "aws.py",
)


class Uncacheable(ValueError):
    """A loaded rule file holds a value the entry format cannot write (it is simply recompiled
    on every run)."""


class BadEntry(ValueError):
    """An entry that is not what this code writes: ignored and rebuilt."""


@cache
def _classes() -> dict[str, type]:
    """The only classes an entry may name (pySigma's value types, the engine's plan).

    Only ``sigma.types`` of pySigma: reading an entry must not import ``sigma.rule`` and
    ``sigma.correlations`` (and with them yaml and pyparsing)."""
    from sigma.types import (
        Placeholder,
        SigmaBool,
        SigmaCasedString,
        SigmaCIDRExpression,
        SigmaCompareExpression,
        SigmaExists,
        SigmaFieldReference,
        SigmaNull,
        SigmaNumber,
        SigmaRegularExpression,
        SigmaString,
        SigmaTimestampPart,
    )

    from detectors.rules.loader import LoadError

    allowed: list[type] = [
        Placeholder, SigmaBool, SigmaCasedString, SigmaCIDRExpression, SigmaCompareExpression,
        SigmaExists,
        SigmaFieldReference, SigmaNull, SigmaNumber, SigmaRegularExpression, SigmaString,
        SigmaTimestampPart, CorrelationCondition, CorrelationSpec, CorrelationTimespan, Leaf,
        Node, RuleMeta, RuleTests, SigmaDetectionRule, SigmaCorrelation, LoadError,
    ]  # fmt: skip
    return {cls.__name__: cls for cls in allowed}


@cache
def _enums() -> dict[str, type[Enum]]:
    from sigma.types import (
        CompareOperators,
        SigmaRegularExpressionFlag,
        SpecialChars,
        TimestampPart,
    )

    allowed: list[type[Enum]] = [
        CompareOperators, SigmaRegularExpressionFlag, SpecialChars, TimestampPart,
        CorrelationOperator, CorrelationType,
    ]  # fmt: skip
    return {cls.__name__: cls for cls in allowed}


@cache
def engine_fingerprint() -> str:
    """What compiled plans depend on besides the rule file: the versions of functrail and
    pySigma and the source of the engine (an edited checkout recompiles too)."""
    digest = hashlib.sha256(f"format {FORMAT}".encode())
    for dist in ("functrail", "pysigma"):
        try:
            digest.update(f"{dist} {metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{dist} -".encode())
    for source in _ENGINE_SOURCES:
        for path in sorted(source.glob("*.py")) if source.is_dir() else [source]:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def entry_key(path: Path, resolved: Path, data: bytes) -> str:
    """The key of one rule file's entry: the path as given and resolved, its bytes, the engine."""
    digest = hashlib.sha256(engine_fingerprint().encode())
    for part in (str(path).encode(), str(resolved).encode(), data):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def entry_path(cache_dir: Path, resolved: Path) -> Path:
    """One entry per rule file (its path), overwritten when the file or the engine changes."""
    name = hashlib.sha256(str(resolved).encode()).hexdigest()[:32]
    return cache_dir / f"{name}.json"


def load_cached(
    path: Path, cache_dir: Path, compile_file: Callable[[Path], Any], resolved: Path | None = None
) -> Any:
    """``compile_file(path)`` (a ``loader.Loaded``), from the cache when it holds this file
    (``resolved``: the path resolved, when the caller has it already)."""
    from detectors.rules.loader import Loaded

    try:
        data = path.read_bytes()
    except OSError:
        return compile_file(path)  # it reports the error
    resolved = resolved or path.resolve()
    key = entry_key(path, resolved, data)
    entry = entry_path(cache_dir, resolved)
    try:
        found = read_entry(entry, key)
    except (OSError, BadEntry) as exc:
        log.debug("rule cache entry %s ignored: %s", entry, exc)
        found = None
    if found is not None:
        return found
    loaded = compile_file(path)
    if isinstance(loaded, Loaded):
        try:
            write_entry(entry, key, loaded)
        except (OSError, Uncacheable) as exc:
            log.debug("rule cache: %s not cached: %s", path, exc)
    return loaded


def write_entry(entry: Path, key: str, loaded: Any) -> None:
    """Write atomically: a header line (format, key, payload checksum), then the payload."""
    index = {id(rule): n for n, rule in enumerate(loaded.rules)}
    payload = orjson.dumps(
        {
            "rules": [_encode_rule(rule, index) for rule in loaded.rules],
            "errors": [_encode(error) for error in loaded.errors],
        }
    )
    header = orjson.dumps(
        {"format": FORMAT, "key": key, "sha256": hashlib.sha256(payload).hexdigest()}
    )
    entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(entry, header + b"\n" + payload)


def read_entry(entry: Path, key: str) -> Any:
    """The ``Loaded`` an entry holds; None when there is none or it is for other bytes;
    BadEntry when it is damaged or not ours."""
    from detectors.rules.loader import Loaded

    try:
        blob = entry.read_bytes()
    except FileNotFoundError:
        return None
    head, sep, payload = blob.partition(b"\n")
    try:
        header = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise BadEntry(f"header: {exc}") from None
    if not sep or not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BadEntry("not an entry of this format")
    if header.get("key") != key:
        return None
    if header.get("sha256") != hashlib.sha256(payload).hexdigest():
        raise BadEntry("checksum mismatch")
    try:
        body = orjson.loads(payload)
        rules: list[Rule] = []
        for item in body["rules"]:
            rule = _decode(item, rules)
            if not isinstance(rule, SigmaDetectionRule | SigmaCorrelation):
                raise BadEntry(f"not a rule: {type(rule).__name__}")
            rules.append(rule)
        errors = [_decode(item, rules) for item in body["errors"]]
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise BadEntry(f"{type(exc).__name__}: {exc}") from None
    if not all(type(e).__name__ == "LoadError" for e in errors):
        raise BadEntry("not a load error")
    return Loaded(rules, errors)


# -- tagged JSON -----------------------------------------------------------------------------------
def _encode_rule(rule: Rule, index: dict[int, int]) -> Any:
    if isinstance(rule, SigmaCorrelation):
        return {
            "$": "obj",
            "c": "SigmaCorrelation",
            "d": {
                "meta": _encode(rule.meta),
                "sigma": _encode(rule.sigma),
                "bases": [{"$": "rule", "i": index[id(base)]} for base in rule.bases],
            },
        }
    if isinstance(rule, SigmaDetectionRule):
        return _encode(rule)
    raise Uncacheable(f"rule {rule.meta.rule_id} is a {type(rule).__name__}")


_PRIMITIVES = (str, bool, int, float)


def _is_plain(value: Any) -> bool:
    """JSON as is: its decoding needs no tags (most of a rule's test records)."""
    if value is None or type(value) in _PRIMITIVES:
        return True
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _encode(value: Any) -> Any:
    if isinstance(value, Enum):  # before the primitives: an enum may be a str too
        if _enums().get(type(value).__name__) is not type(value):
            raise Uncacheable(f"enum {type(value).__name__}")
        return {"$": "enum", "c": type(value).__name__, "v": value.name}
    if value is None or type(value) in _PRIMITIVES:
        return value
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if _is_plain(value):
            return {"$": "json", "v": value}
        return {"$": "dict", "v": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$": "tuple", "v": [_encode(v) for v in value]}
    if isinstance(value, frozenset | set):
        tag = "frozenset" if isinstance(value, frozenset) else "set"
        return {"$": tag, "v": [_encode(v) for v in value]}
    if isinstance(value, Path):
        return {"$": "path", "v": str(value)}
    if isinstance(value, UUID):
        return {"$": "uuid", "v": str(value)}
    if isinstance(value, IPv4Network | IPv6Network):
        return {"$": "network", "v": str(value)}
    if isinstance(value, datetime):
        return {"$": "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {"$": "date", "v": value.isoformat()}
    if _classes().get(type(value).__name__) is type(value):
        return _encode_object(value)
    raise Uncacheable(f"a {type(value).__name__} value")


def _encode_object(value: Any) -> Any:
    return {
        "$": "obj",
        "c": type(value).__name__,
        "d": {k: _encode(v) for k, v in vars(value).items()},
    }


_NESTED = (list, dict)
"""JSON values that need decoding; the rest (str, numbers, bool, None) are themselves."""


def _decode(value: Any, rules: list[Rule]) -> Any:
    # Every plan of a warm run passes through here (~50k values for the pack and SigmaHQ's
    # cloud rules): exact type checks, and no call for a plain value.
    kind = type(value)
    if kind is list:
        return [_decode(v, rules) if type(v) in _NESTED else v for v in value]
    if kind is not dict:
        return value
    tag = value["$"]
    if tag == "obj":
        cls = _classes()[value["c"]]
        attrs = value["d"]
        if type(attrs) is not dict or not all(map(str.isidentifier, attrs)):
            raise BadEntry(f"attributes of {value['c']}")
        obj: Any = object.__new__(cls)
        vars(obj).update(
            {k: _decode(v, rules) if type(v) in _NESTED else v for k, v in attrs.items()}
        )
        return obj
    if tag == "json":
        return value["v"]
    if tag == "enum":
        return _enums()[value["c"]][value["v"]]
    if tag == "rule":
        return rules[int(value["i"])]
    items = value["v"]
    if tag == "tuple":
        return tuple(_decode(items, rules))
    if tag == "dict":
        return {_decode(k, rules): _decode(v, rules) for k, v in items}
    if tag == "set":
        return set(_decode(items, rules))
    if tag == "frozenset":
        return frozenset(_decode(items, rules))
    if tag == "path":
        return Path(str(items))
    if tag == "uuid":
        return UUID(str(items))
    if tag == "network":
        return ip_network(str(items))
    if tag == "datetime":
        return datetime.fromisoformat(str(items))
    if tag == "date":
        return date.fromisoformat(str(items))
    raise BadEntry(f"unknown tag {tag!r}")
