"""A Sigma condition tree compiled into vectorized predicates over a batch.

pySigma parses the rule and resolves ``1 of selection_*``, ``all of``, ``not`` and parentheses
into a tree of AND / OR / NOT over ``field <op> value`` leaves; this module turns each leaf into
an Arrow compute call. Evaluation is two-phase: ``bounds`` runs over the whole batch using only
columns (a raw-path leaf is "unknown": lower bound False, upper bound True), and ``evaluate``
settles the undecided rows, for which the raw paths are extracted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from detectors.rules import fields, screen
from detectors.rules.context import BatchContext, is_row_level
from detectors.rules.matchers import (
    COMPARE,
    Mask,
    UnsupportedRule,
    cidr,
    fieldref,
    is_lone_wildcard,
    like_pattern,
    literal_text,
    regex,
    timestamp_part,
    to_bool,
)
from detectors.rules.values import Values
from pipelines.normalize.aws import strip_version

__all__ = ["Leaf", "Node", "UnsupportedRule", "compile_condition", "is_lone_wildcard", "scoped"]


_VALUE_TYPES = (
    SigmaString,
    SigmaRegularExpression,
    SigmaCIDRExpression,
    SigmaNumber,
    SigmaBool,
    SigmaNull,
    SigmaExists,
    SigmaCompareExpression,
    SigmaFieldReference,
)


_DISTINCT_TYPES = tuple(
    t for t in _VALUE_TYPES if t not in (SigmaExists, SigmaNull, SigmaFieldReference)
)
"""Values a leaf compares element by element (the others ask about presence or a field)."""


@dataclass
class Leaf:
    """``field <value>``: one Sigma detection item value, as a vectorized predicate.

    ``field`` is a name ``BatchContext`` reads (``fields.resolve`` of what the rule wrote);
    ``written`` is the field as the rule wrote it, for lint and messages (None: a keyword).
    """

    field: str
    value: Any
    written: str | None = None
    key: str = ""
    row_level: bool = False
    refs: tuple[str, ...] = ()
    """Fields as the rule wrote them (this one and a ``fieldref`` target): for lint."""
    reads: tuple[str, ...] = ()
    """Names ``BatchContext`` reads for this leaf."""
    screen: str | None = None
    """A literal the raw text must hold for this leaf to match (``screen.literal_of``)."""

    def __post_init__(self) -> None:
        v = self.value
        part = v.timestamp_part.name if isinstance(v, SigmaTimestampPart) else ""
        self.key = f"{type(v).__name__}{part}:{v!r}"
        self.refs = () if self.written is None else (self.written,)
        if isinstance(v, SigmaFieldReference):
            self.refs = (*self.refs, v.field)
        if not isinstance(v, _VALUE_TYPES):
            raise UnsupportedRule(
                f"field {self.written or 'keywords'!r}: unsupported value type {type(v).__name__}"
            )
        if isinstance(v, SigmaString):
            like_pattern(v)  # fail at load time, not per batch
        if isinstance(v, SigmaRegularExpression):
            try:
                re.compile(v.regexp.to_plain())
            except re.error as exc:
                raise UnsupportedRule(
                    f"field {self.written or 'keywords'!r}: bad regular expression: {exc}"
                ) from None
        target = fields.resolve(v.field) if isinstance(v, SigmaFieldReference) else ()
        self.reads = (self.field, *target)
        self.row_level = any(is_row_level(f) for f in self.reads)
        if screen.screened(self.field) and not isinstance(v, SigmaFieldReference):
            self.screen = screen.literal_of(v)

    # -- evaluation ------------------------------------------------------------------------------
    def match(self, ctx: BatchContext, rows: np.ndarray | None) -> Mask:
        if rows is None and not self.row_level:
            memo_key = (self.field, self.key)
            packed = ctx.memo.get(memo_key)
            if packed is None:
                hit = self._match(ctx, None)
                # Kept as bits: a batch holds ~500 distinct leaves, and a byte per row each
                # was 150 MB at 288k events (fresh pages cost more than unpacking on a hit).
                ctx.memo[memo_key] = np.packbits(hit)
                return hit
            return np.unpackbits(packed, count=ctx.n).view(bool)
        return self._match(ctx, rows)

    def carried_bounds(self, ctx: BatchContext) -> tuple[Mask, Mask] | None:
        """(lower, upper) over the whole batch of a raw leaf whose paths the normalizer carried
        as columns (``BatchContext.carried_rows``): exact where they are known, unknown
        elsewhere. None when a path is not carried."""
        known = ctx.carried_rows(self.reads)
        if known is None:
            return None
        memo_key = (f"carried/{self.field}", self.key)
        packed = ctx.memo.get(memo_key)
        if packed is None:
            hit = self._match(ctx, None, carried=True)
            ctx.memo[memo_key] = np.packbits(hit)
        else:
            hit = np.unpackbits(packed, count=ctx.n).view(bool)
        return hit & known, hit | ~known

    def _match(self, ctx: BatchContext, rows: np.ndarray | None, *, carried: bool = False) -> Mask:
        """The leaf over ``rows`` (None: every row); ``carried``: over the whole batch from the
        carried columns, right only where ``carried_rows`` says they are known."""
        v = self.value
        if rows is None and (carried or not self.row_level) and isinstance(v, _DISTINCT_TYPES):
            return self._match_distinct(ctx, carried)
        values = ctx.carried_values(self.field) if carried else ctx.values(self.field, rows)
        if isinstance(v, SigmaExists):
            present = values.present()
            return present if v.exists else ~present
        if isinstance(v, SigmaNull):
            return ~values.present()
        if isinstance(v, SigmaFieldReference):
            other = (
                Values.union([ctx.carried_values(read) for read in fields.resolve(v.field)])
                if carried
                else ctx.values(v.field, rows)
            )
            return fieldref(values, other, v.starts_with, v.ends_with)
        return values.any_per_row(self._elements(values.text))

    def matches_no_value(self, ctx: BatchContext) -> bool:
        """True when no value the batch holds for this column-level field satisfies the leaf
        (False when that is not known without reading rows: raw paths, presence, fieldref)."""
        if self.row_level or not isinstance(self.value, _DISTINCT_TYPES):
            return False
        return not self._value_hits(ctx, carried=False).any()

    def _value_hits(self, ctx: BatchContext, *, carried: bool) -> np.ndarray:
        """Per distinct value of the field (``ctx.distinct``), whether it satisfies the leaf;
        one more False at the end for code -1 (null). Worked out once per batch."""
        memo_key = (f"values/{'carried/' if carried else ''}{self.field}", self.key)
        hits = ctx.memo.get(memo_key)
        if hits is None:
            distinct = ctx.distinct(self.field, carried=carried)
            hits = np.append(self._elements(distinct.uniques), False)
            ctx.memo[memo_key] = hits
        return hits

    def _match_distinct(self, ctx: BatchContext, carried: bool) -> Mask:
        """A column over the whole batch: it has few distinct values, so each is matched once
        and the result spread to the rows."""
        distinct = ctx.distinct(self.field, carried=carried)
        per_value = self._value_hits(ctx, carried=carried)
        matched = np.flatnonzero(per_value)
        if len(matched) == 0:  # most leaves name a value the batch does not hold
            return np.zeros(ctx.n, dtype=bool)
        if len(matched) == 1:  # one compare: 0.04 ms at 288k rows, the gather 0.3 ms
            return distinct.any_per_row(ctx.n, distinct.codes == matched[0])
        return distinct.any_per_row(ctx.n, per_value[distinct.codes])

    def _elements(self, text: pa.Array) -> Mask:
        v = self.value
        if isinstance(v, SigmaCasedString):
            plain = literal_text(v)
            if plain is not None:
                return to_bool(pc.equal(text, plain))
            return to_bool(pc.match_like(text, like_pattern(v), ignore_case=False))
        if isinstance(v, SigmaString):
            plain = literal_text(v)
            if plain is not None:
                return to_bool(pc.equal(pc.utf8_lower(text), plain.lower()))
            return to_bool(pc.match_like(text, like_pattern(v), ignore_case=True))
        if isinstance(v, SigmaBool):
            return to_bool(pc.equal(pc.utf8_lower(text), "true" if v.boolean else "false"))
        if isinstance(v, SigmaTimestampPart):
            return timestamp_part(text, v)
        if isinstance(v, SigmaNumber):
            numbers = pd.to_numeric(pd.Series(text.to_pylist(), dtype=object), errors="coerce")
            return np.asarray(numbers.to_numpy(dtype=float) == float(v.number), dtype=bool)
        if isinstance(v, SigmaCompareExpression):
            numbers = pd.to_numeric(pd.Series(text.to_pylist(), dtype=object), errors="coerce")
            found = numbers.to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                hit = COMPARE[v.op.name](found, float(v.number.number))
            return np.asarray(hit & ~np.isnan(found), dtype=bool)
        if isinstance(v, SigmaRegularExpression):
            return regex(text, v)
        if isinstance(v, SigmaCIDRExpression):
            return cidr(text, v)
        raise UnsupportedRule(f"unsupported value {v!r}")  # pragma: no cover - checked at load


@dataclass
class Node:
    """AND / OR / NOT over children, a leaf, or ``scope``: the rows of the rule's logsource."""

    op: str
    children: list[Node] = field(default_factory=list)
    leaf: Leaf | None = None
    scope: fields.RowScope | None = None

    def leaves(self) -> list[Leaf]:
        if self.leaf is not None:
            return [self.leaf]
        return [leaf for child in self.children for leaf in child.leaves()]

    def matches_nothing(self, ctx: BatchContext) -> bool:
        """True when no row of the batch can match, told from the logsource's rows and the
        distinct values of column fields alone, before any mask over the rows is made: most
        rules name actions a batch does not hold (239 of 281 Sigma rules matched nothing at
        288k events). False means "perhaps"."""
        if self.scope is not None:
            return not ctx.rows_of(self.scope).any()
        if self.leaf is not None:
            return self.leaf.matches_no_value(ctx)
        if self.op == "and":
            return any(child.matches_nothing(ctx) for child in self.children)
        if self.op == "or":
            return all(child.matches_nothing(ctx) for child in self.children)
        return False  # NOT: a leaf that matches nothing makes it match everything

    def bounds(self, ctx: BatchContext) -> tuple[Mask, Mask]:
        """(lower, upper) over the whole batch from columns alone; raw leaves are unknown."""
        if self.scope is not None:
            rows = ctx.rows_of(self.scope)
            return rows, rows
        if self.leaf is not None:
            if self.leaf.row_level:
                known = self.leaf.carried_bounds(ctx)
                if known is not None:
                    return known
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

    def screen_bounds(self, ctx: BatchContext, rows: np.ndarray) -> tuple[Mask, Mask]:
        """(lower, upper) over ``rows``, as ``bounds`` but a screened raw leaf is False where
        the row's raw text lacks its literal (``screen``)."""
        if self.scope is not None:
            in_scope = ctx.rows_of(self.scope)[rows]
            return in_scope, in_scope
        if self.leaf is not None:
            if not self.leaf.row_level:
                hit = self.leaf.match(ctx, None)[rows]
                return hit, hit
            known = self.leaf.carried_bounds(ctx)
            if known is not None:  # a column compare, where a screen would search raw text
                return known[0][rows], known[1][rows]
            upper = (
                ctx.raw_contains([self.leaf.screen], rows)
                if self.leaf.screen is not None
                else np.ones(len(rows), dtype=bool)
            )
            return np.zeros(len(rows), dtype=bool), upper
        if self.op == "not":
            lo, hi = self.children[0].screen_bounds(ctx, rows)
            return ~hi, ~lo
        if self.op == "and":
            # Each child screens only the rows the ones before it left possible: SigmaHQ's
            # ``userIdentity.type: AssumedRole`` and ``sessionIssuer.type: Role`` then search
            # the whole raw column once, not twice.
            lo, hi = np.ones(len(rows), dtype=bool), np.ones(len(rows), dtype=bool)
            for child in self.children:
                live = np.flatnonzero(hi)
                if not len(live):
                    break
                clo, chi = child.screen_bounds(ctx, rows[live])
                lo[live] &= clo
                hi[live] &= chi
            return lo & hi, hi
        # OR: the screened raw leaves under it (through nested ORs) are searched together, in
        # one pass for all their literals (``gcp.audit.method_name: [eight methods]``).
        screened, others = self._or_parts(ctx)
        if len(screened) < 2:
            screened, others = [], self.children
        lo = np.zeros(len(rows), dtype=bool)
        hi = ctx.raw_contains(screened, rows) if screened else lo.copy()
        for child in others:
            clo, chi = child.screen_bounds(ctx, rows)
            lo |= clo
            hi |= chi
        return lo, hi

    def _or_parts(self, ctx: BatchContext) -> tuple[list[str], list[Node]]:
        """Under an OR (and the ORs it holds): the literals of its screened raw leaves, and
        the other children (carried leaves among them: they compare columns)."""
        screened: list[str] = []
        others: list[Node] = []
        for child in self.children:
            if child.op == "or" and child.scope is None and child.leaf is None:
                inner, rest = child._or_parts(ctx)
                screened.extend(inner)
                others.extend(rest)
            elif (
                child.leaf is not None
                and child.leaf.row_level
                and child.leaf.screen
                and ctx.carried_rows(child.leaf.reads) is None
            ):
                screened.append(child.leaf.screen)
            else:
                others.append(child)
        return screened, others

    def evaluate(self, ctx: BatchContext, rows: np.ndarray | None) -> Mask:
        """Exact result over ``rows`` (None = the whole batch)."""
        if self.scope is not None:
            in_scope = ctx.rows_of(self.scope)
            return in_scope if rows is None else in_scope[rows]
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
    """pySigma's parsed condition -> a Node tree (raises UnsupportedRule for what it cannot
    evaluate, naming the construct)."""
    # here, not at the top: sigma.conditions imports pyparsing, which a run whose rules all
    # come from the plan cache never needs
    from sigma.conditions import (
        ConditionAND,
        ConditionFieldEqualsValueExpression,
        ConditionNOT,
        ConditionOR,
        ConditionValueExpression,
    )

    if isinstance(tree, ConditionAND):
        return Node("and", [compile_condition(arg) for arg in tree.args])
    if isinstance(tree, ConditionOR):
        return Node("or", [compile_condition(arg) for arg in tree.args])
    if isinstance(tree, ConditionNOT):
        return Node("not", [compile_condition(tree.args[0])])
    if isinstance(tree, ConditionFieldEqualsValueExpression):
        return _field_item(str(tree.field), tree.value)
    if isinstance(tree, ConditionValueExpression):
        return _keyword(tree.value)
    raise UnsupportedRule(f"unsupported condition element {type(tree).__name__}")


def _one_of(op: str, nodes: list[Node]) -> Node:
    return nodes[0] if len(nodes) == 1 else Node(op, nodes)


def _field_item(written: str, value: Any) -> Node:
    """One ``field: value`` of the rule over every name the field reads (any of them matches;
    for ``null`` / ``exists: false``, all of them are absent)."""
    if isinstance(value, SigmaExpansion):  # base64offset, windash: any of the forms
        return _one_of("or", [_field_item(written, v) for v in value.values])
    values = [value]
    if written == "eventName" and isinstance(value, SigmaString):
        plain = literal_text(value)
        stripped = strip_version(plain) if plain is not None else None
        if plain is not None and stripped and stripped != plain:
            values.append(type(value)(stripped))  # a rule naming one API version matches any
    absent = isinstance(value, SigmaNull) or (isinstance(value, SigmaExists) and not value.exists)
    leaves = [
        Node("leaf", leaf=Leaf(read, v, written))
        for v in values
        for read in fields.resolve(written)
    ]
    return _one_of("and" if absent else "or", leaves)


def _keyword(value: Any) -> Node:
    """A Sigma keyword: a case-insensitive substring of the raw record's text (JSON as logged;
    a keyword with characters JSON escapes also matches its escaped form)."""
    if isinstance(value, SigmaExpansion):
        return _one_of("or", [_keyword(v) for v in value.values])
    if isinstance(value, SigmaNumber) and not isinstance(value, SigmaTimestampPart):
        value = SigmaString(str(value.number))
    if isinstance(value, SigmaRegularExpression):
        return Node("leaf", leaf=Leaf(fields.KEYWORDS, value))
    if not isinstance(value, SigmaString) or isinstance(value, SigmaCasedString):
        raise UnsupportedRule(
            f"keyword search with a {type(value).__name__} value: keywords are text searched"
            " in the whole record (strings or |re)"
        )
    forms = [list(value.s)]
    for escape in (_json_escaped, _ascii_escaped, _slash_escaped):
        form = [escape(p) if isinstance(p, str) else p for p in value.s]
        if form not in forms:
            forms.append(form)
    nodes = []
    for parts in forms:
        if not parts or parts[0] != SpecialChars.WILDCARD_MULTI:
            parts = [SpecialChars.WILDCARD_MULTI, *parts]
        if parts[-1] != SpecialChars.WILDCARD_MULTI:
            parts = [*parts, SpecialChars.WILDCARD_MULTI]
        pattern = SigmaString()
        pattern.s = parts
        nodes.append(Node("leaf", leaf=Leaf(fields.KEYWORDS, pattern)))
    return _one_of("or", nodes)


def _json_escaped(text: str) -> str:
    return orjson.dumps(text).decode()[1:-1]


def _ascii_escaped(text: str) -> str:
    return json.dumps(text)[1:-1]  # non-ASCII as \\uXXXX, as some writers log it


def _slash_escaped(text: str) -> str:
    return _json_escaped(text).replace("/", "\\/")


def scoped(scope: fields.RowScope | None, tree: Node) -> Node:
    """The rule's tree over the rows its logsource names (all rows when ``scope`` is None)."""
    return tree if scope is None else Node("and", [Node("scope", scope=scope), tree])
