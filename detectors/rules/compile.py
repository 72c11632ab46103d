"""A Sigma condition tree compiled into vectorized predicates over a batch.

pySigma parses the rule and resolves ``1 of selection_*``, ``all of``, ``not`` and parentheses
into a tree of AND / OR / NOT over ``field <op> value`` leaves; this module turns each leaf into
an Arrow compute call. Evaluation is two-phase: ``bounds`` runs over the whole batch using only
columns (a raw-path leaf is "unknown": lower bound False, upper bound True), and ``evaluate``
settles the undecided rows, for which the raw paths are extracted.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from detectors.rules.context import BatchContext, Values, is_row_level

Mask = np.ndarray


class UnsupportedRule(ValueError):
    """The rule uses a Sigma construct this engine does not evaluate (it is not loaded)."""


def _to_bool(array: pa.Array | pa.ChunkedArray) -> Mask:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _like_pattern(value: SigmaString) -> str:
    out: list[str] = []
    for part in value.s:
        if part == SpecialChars.WILDCARD_MULTI:
            out.append("%")
        elif part == SpecialChars.WILDCARD_SINGLE:
            out.append("_")
        elif isinstance(part, str):
            out.append(part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
        else:
            raise UnsupportedRule(f"unsupported special part {part!r} in {value}")
    return "".join(out)


def _plain(value: SigmaString) -> str | None:
    """The literal text when the value has no wildcards, else None."""
    if all(isinstance(p, str) for p in value.s):
        return "".join(p for p in value.s if isinstance(p, str))
    return None


def is_lone_wildcard(value: Any) -> bool:
    """``field: '*'`` in Sigma means "any value", not a literal asterisk (a common slip)."""
    return isinstance(value, SigmaString) and list(value.s) == [SpecialChars.WILDCARD_MULTI]


_COMPARE = {
    "LT": np.less,
    "LTE": np.less_equal,
    "GT": np.greater,
    "GTE": np.greater_equal,
}


@dataclass
class Leaf:
    """``field <value>``: one Sigma detection item value, as a vectorized predicate."""

    field: str
    value: Any
    key: str = ""
    element: Callable[[Values], Mask] | None = None
    row_level: bool = False
    refs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.key = f"{type(self.value).__name__}:{self.value!r}"
        self.refs = (self.field,)
        v = self.value
        if isinstance(v, SigmaFieldReference):
            self.refs = (self.field, v.field)
        elif not isinstance(
            v,
            SigmaString
            | SigmaCasedString
            | SigmaRegularExpression
            | SigmaCIDRExpression
            | SigmaNumber
            | SigmaBool
            | SigmaNull
            | SigmaExists
            | SigmaCompareExpression,
        ):
            raise UnsupportedRule(
                f"field {self.field!r}: unsupported value type {type(v).__name__}"
            )
        if isinstance(v, SigmaString):
            _like_pattern(v)  # fail at load time, not per batch
        if isinstance(v, SigmaRegularExpression):
            try:
                re.compile(v.regexp.to_plain())
            except re.error as exc:
                raise UnsupportedRule(
                    f"field {self.field!r}: bad regular expression: {exc}"
                ) from None
        self.row_level = any(is_row_level(f) for f in self.refs)

    # -- evaluation ------------------------------------------------------------------------------
    def match(self, ctx: BatchContext, rows: np.ndarray | None) -> Mask:
        if rows is None and not self.row_level:
            memo_key = (self.field, self.key)
            hit = ctx.memo.get(memo_key)
            if hit is None:
                hit = ctx.memo[memo_key] = self._match(ctx, None)
            return hit
        return self._match(ctx, rows)

    def _match(self, ctx: BatchContext, rows: np.ndarray | None) -> Mask:
        v = self.value
        values = ctx.values(self.field, rows)
        if isinstance(v, SigmaExists):
            present = values.present()
            return present if v.exists else ~present
        if isinstance(v, SigmaNull):
            return ~values.present()
        if isinstance(v, SigmaFieldReference):
            return _fieldref(values, ctx.values(v.field, rows), v.starts_with, v.ends_with)
        return values.any_per_row(self._elements(ctx, values, rows))

    def _elements(self, ctx: BatchContext, values: Values, rows: np.ndarray | None) -> Mask:
        v = self.value
        text = values.text
        if isinstance(v, SigmaCasedString):
            plain = _plain(v)
            if plain is not None:
                return _to_bool(pc.equal(text, plain))
            return _to_bool(pc.match_like(text, _like_pattern(v), ignore_case=False))
        if isinstance(v, SigmaString):
            plain = _plain(v)
            if plain is not None:
                lower = (
                    ctx.column_lower(self.field)
                    if rows is None and values.owner is None
                    else pc.utf8_lower(text)
                )
                return _to_bool(pc.equal(lower, plain.lower()))
            return _to_bool(pc.match_like(text, _like_pattern(v), ignore_case=True))
        if isinstance(v, SigmaBool):
            return _to_bool(pc.equal(pc.utf8_lower(text), "true" if v.boolean else "false"))
        if isinstance(v, SigmaNumber):
            numbers = pd.to_numeric(pd.Series(text.to_pylist(), dtype=object), errors="coerce")
            return np.asarray(numbers.to_numpy(dtype=float) == float(v.number), dtype=bool)
        if isinstance(v, SigmaCompareExpression):
            numbers = pd.to_numeric(pd.Series(text.to_pylist(), dtype=object), errors="coerce")
            op = _COMPARE[v.op.name]
            with np.errstate(invalid="ignore"):
                return np.asarray(op(numbers.to_numpy(dtype=float), float(v.number.number)))
        if isinstance(v, SigmaRegularExpression):
            return _regex(text, v)
        if isinstance(v, SigmaCIDRExpression):
            return _cidr(text, v)
        raise UnsupportedRule(f"unsupported value {v!r}")  # pragma: no cover - checked at load


def _regex(text: pa.Array, v: SigmaRegularExpression) -> Mask:
    pattern = v.regexp.to_plain()
    flags = set(v.flags or ())
    ignore_case = SigmaRegularExpressionFlag.IGNORECASE in flags
    inline = ""
    if SigmaRegularExpressionFlag.MULTILINE in flags:
        inline += "m"
    if SigmaRegularExpressionFlag.DOTALL in flags:
        inline += "s"
    full = f"(?{inline}){pattern}" if inline else pattern
    try:
        return _to_bool(pc.match_substring_regex(text, full, ignore_case=ignore_case))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # RE2 refuses some Python syntax (lookarounds, backreferences): fall back to ``re``.
        compiled = re.compile(full, re.IGNORECASE if ignore_case else 0)
        series = pd.Series(text.to_pylist(), dtype=object)
        return np.asarray(
            [isinstance(s, str) and compiled.search(s) is not None for s in series], dtype=bool
        )


def _cidr(text: pa.Array, v: SigmaCIDRExpression) -> Mask:
    network = v.network
    codes, uniques = pd.factorize(pd.Series(text.to_pylist(), dtype=object))
    inside = np.zeros(len(uniques) + 1, dtype=bool)
    for i, address in enumerate(uniques):
        try:
            inside[i] = ipaddress.ip_address(str(address).strip()) in network
        except ValueError:
            inside[i] = False
    return inside[codes]  # code -1 (null) indexes the trailing False


def _fieldref(left: Values, right: Values, starts: bool, ends: bool) -> Mask:
    """Field equals (or, with ``|contains`` / ``startswith`` / ``endswith``, holds) another
    field's value, case-insensitively, any element against any element."""

    def frame(values: Values) -> pd.DataFrame:
        owner = np.arange(values.n) if values.owner is None else values.owner
        text = pd.Series(pc.utf8_lower(values.text).to_pylist(), dtype=object)
        return pd.DataFrame({"o": owner, "v": text}).dropna()

    lhs, rhs = frame(left), frame(right)
    out = np.zeros(left.n, dtype=bool)
    if not starts and not ends:
        joined = lhs.merge(rhs, on=["o", "v"])
    else:
        joined = lhs.merge(rhs, on="o", suffixes=("", "_ref"))
        if starts and ends:
            test = [r in v for v, r in zip(joined["v"], joined["v_ref"], strict=True)]
        elif starts:
            test = [v.startswith(r) for v, r in zip(joined["v"], joined["v_ref"], strict=True)]
        else:
            test = [v.endswith(r) for v, r in zip(joined["v"], joined["v_ref"], strict=True)]
        joined = joined[np.asarray(test, dtype=bool)] if len(joined) else joined
    out[joined["o"].to_numpy(dtype=np.int64)] = True
    return out


@dataclass
class Node:
    """AND / OR / NOT over children, or a leaf."""

    op: str
    children: list[Node] = field(default_factory=list)
    leaf: Leaf | None = None

    def leaves(self) -> list[Leaf]:
        if self.leaf is not None:
            return [self.leaf]
        return [leaf for child in self.children for leaf in child.leaves()]

    def bounds(self, ctx: BatchContext) -> tuple[Mask, Mask]:
        """(lower, upper) over the whole batch from columns alone; raw leaves are unknown."""
        if self.leaf is not None:
            if self.leaf.row_level:
                return np.zeros(ctx.n, dtype=bool), np.ones(ctx.n, dtype=bool)
            hit = self.leaf.match(ctx, None)
            return hit, hit
        if self.op == "not":
            lo, hi = self.children[0].bounds(ctx)
            return ~hi, ~lo
        parts = [child.bounds(ctx) for child in self.children]
        if self.op == "and":
            lo, hi = parts[0][0].copy(), parts[0][1].copy()
            for plo, phi in parts[1:]:
                lo &= plo
                hi &= phi
        else:
            lo, hi = parts[0][0].copy(), parts[0][1].copy()
            for plo, phi in parts[1:]:
                lo |= plo
                hi |= phi
        return lo, hi

    def evaluate(self, ctx: BatchContext, rows: np.ndarray | None) -> Mask:
        """Exact result over ``rows`` (None = the whole batch)."""
        if self.leaf is not None:
            return self.leaf.match(ctx, rows)
        if self.op == "not":
            return ~self.children[0].evaluate(ctx, rows)
        result = self.children[0].evaluate(ctx, rows)
        for child in self.children[1:]:
            if self.op == "and":
                if not result.any():
                    break
                result = result & child.evaluate(ctx, rows)
            else:
                result = result | child.evaluate(ctx, rows)
        return result


def compile_condition(tree: Any) -> Node:
    """pySigma's parsed condition -> a Node tree (raises UnsupportedRule for keywords etc.)."""
    if isinstance(tree, ConditionAND):
        return Node("and", [compile_condition(arg) for arg in tree.args])
    if isinstance(tree, ConditionOR):
        return Node("or", [compile_condition(arg) for arg in tree.args])
    if isinstance(tree, ConditionNOT):
        return Node("not", [compile_condition(tree.args[0])])
    if isinstance(tree, ConditionFieldEqualsValueExpression):
        return Node("leaf", leaf=Leaf(tree.field, tree.value))
    raise UnsupportedRule(
        f"unsupported condition element {type(tree).__name__} (keyword searches without a field"
        " are not supported: name the field)"
    )


def evaluate_rule(node: Node, ctx: BatchContext) -> tuple[Mask, np.ndarray]:
    """Phase 1: (decided matches, undecided rows) from columns only."""
    lo, hi = node.bounds(ctx)
    return lo, np.flatnonzero(hi & ~lo)
