"""Sigma values matched against a field's text, element by element, as Arrow computations.

``compile.Leaf`` picks the matcher for its value type; each returns one bool per element of a
``Values`` (a row matches when any of its elements does).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sigma.types import (
    Placeholder,
    SigmaCIDRExpression,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from detectors.rules.values import Values

Mask = np.ndarray


class UnsupportedRule(ValueError):
    """The rule uses a Sigma construct this engine does not evaluate (it is not loaded)."""


def to_bool(array: pa.Array | pa.ChunkedArray) -> Mask:
    """An Arrow boolean column as a numpy row mask, null read as False."""
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def like_pattern(value: SigmaString) -> str:
    out: list[str] = []
    for part in value.s:
        if part == SpecialChars.WILDCARD_MULTI:
            out.append("%")
        elif part == SpecialChars.WILDCARD_SINGLE:
            out.append("_")
        elif isinstance(part, str):
            out.append(part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
        elif isinstance(part, Placeholder):
            raise UnsupportedRule(
                f"placeholder %{part.name}% (|expand) has no value here: functrail has no"
                " placeholder lists; write the values out"
            )
        else:
            raise UnsupportedRule(f"unsupported special part {part!r} in {value}")
    return "".join(out)


def literal_text(value: SigmaString) -> str | None:
    """The literal text when the value has no wildcards, else None."""
    if all(isinstance(p, str) for p in value.s):
        return "".join(p for p in value.s if isinstance(p, str))
    return None


def is_lone_wildcard(value: Any) -> bool:
    """``field: '*'`` in Sigma means "any value", not a literal asterisk (a common slip)."""
    return isinstance(value, SigmaString) and list(value.s) == [SpecialChars.WILDCARD_MULTI]


COMPARE = {
    "LT": np.less,
    "LTE": np.less_equal,
    "GT": np.greater,
    "GTE": np.greater_equal,
    "NEQ": np.not_equal,
}


def regex(text: pa.Array, v: SigmaRegularExpression) -> Mask:
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
        return to_bool(pc.match_substring_regex(text, full, ignore_case=ignore_case))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # RE2 refuses some Python syntax (lookarounds, backreferences): fall back to ``re``.
        compiled = re.compile(full, re.IGNORECASE if ignore_case else 0)
        series = pd.Series(text.to_pylist(), dtype=object)
        return np.asarray(
            [isinstance(s, str) and compiled.search(s) is not None for s in series], dtype=bool
        )


def timestamp_part(text: pa.Array, v: SigmaTimestampPart) -> Mask:
    """``|minute`` ... ``|year``: the value read as a time (ISO 8601, as logged or as the
    ``time`` column prints it), that part (UTC; ``week`` is the ISO week) equal to the number."""
    times = pd.to_datetime(
        pd.Series(text.to_pylist(), dtype=object), errors="coerce", utc=True, format="ISO8601"
    )
    part = v.timestamp_part
    if part is TimestampPart.WEEK:
        found = times.dt.isocalendar().week.astype("Float64")
    else:
        found = getattr(times.dt, part.name.lower()).astype("Float64")
    return np.asarray((found == float(v.number)).fillna(False), dtype=bool)


def cidr(text: pa.Array, v: SigmaCIDRExpression) -> Mask:
    network = v.network
    codes, uniques = pd.factorize(pd.Series(text.to_pylist(), dtype=object))
    inside = np.zeros(len(uniques) + 1, dtype=bool)
    for i, address in enumerate(uniques):
        try:
            inside[i] = ipaddress.ip_address(str(address).strip()) in network
        except ValueError:
            inside[i] = False
    return inside[codes]  # code -1 (null) indexes the trailing False


def fieldref(left: Values, right: Values, starts: bool, ends: bool) -> Mask:
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
