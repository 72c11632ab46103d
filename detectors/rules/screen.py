"""Raw-text screens: a literal a record's text must contain for a raw-path leaf to match.

A rule whose only conditions are raw paths (SigmaHQ's ``userIdentity.type: Root``) leaves
every row undecided after the column prefilter. Before decoding those rows, the engine drops
the ones whose raw JSON text cannot hold the value: ``userIdentity.type: Root`` needs ``root``
somewhere in the text. One RE2 search for ``[rR][oO][oO][tT]`` over the text as logged costs
~10 ms for a day of 36 MB (0.11 s for 296 MiB); decoding the same rows costs ~0.1-0.5 s.

The screen must never drop a row the exact evaluation would match:

- a piece is ASCII and free of what JSON escapes (``"`` ``\\`` ``/``, control characters) or
  what only a structure holds (``,{}[]``; a leading ``:``), so a value holding it holds it
  verbatim in the text, whatever the text's spacing;
- digits-only pieces are left out (``1e3`` is logged, ``1000.0`` compared);
- a record with any non-ASCII character or ``\\u`` escape is never screened out (case
  folding beyond ASCII, and any character a writer chose to escape).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from sigma.types import SigmaRegularExpression, SigmaString

from detectors.rules import fields
from detectors.rules.context import field_kind

MIN_PIECE = 3
"""Shorter pieces are in nearly every record: not worth a search."""

_SPLIT = re.compile(r'["\\/,{}\[\]\x00-\x1f\x7f-\U0010ffff]+')
_NUMERIC = re.compile(r"^[0-9.eE+\-:]*$")


def screened(read: str) -> bool:
    """Whether a leaf reading this name can be screened: a value it compares is text found
    verbatim in the record (not an enrichment, not the decoded ``logName`` id)."""
    kind = field_kind(read)
    return kind in ("raw", "keywords") or read == fields.GRANTED_PERMISSIONS


def literal_of(value: Any) -> str | None:
    """The longest piece every text matching ``value`` holds (lower-cased), if any."""
    if isinstance(value, SigmaString):
        runs = ["".join(run) for run in _runs(value.s)]
    elif isinstance(value, SigmaRegularExpression):
        runs = _regex_runs(value.regexp.to_plain())
    else:
        return None
    pieces = [
        piece.lstrip(":").lower()
        for run in runs
        for piece in _SPLIT.split(run)
        if not _NUMERIC.match(piece)
    ]
    pieces = [p for p in pieces if len(p) >= MIN_PIECE]
    return max(pieces, key=len) if pieces else None


def _runs(parts: list[Any]) -> list[list[str]]:
    """Literal runs of a Sigma string between its wildcards."""
    runs: list[list[str]] = [[]]
    for part in parts:
        if isinstance(part, str):
            runs[-1].append(part)
        else:
            runs.append([])
    return runs


def _regex_runs(pattern: str) -> list[str]:
    """Runs of literal characters at the top level of a regular expression: every match holds
    them (a top-level alternation has none)."""
    try:
        # re's own parser (private, so typeshed may not list it): imported by name
        _parser: Any = importlib.import_module("re._parser")
        parsed = _parser.parse(pattern)
    except Exception:  # an unexpected pattern form: no screen, never a wrong one
        return []
    runs: list[str] = []
    current: list[str] = []
    for op, arg in parsed:
        if op is _parser.LITERAL:
            current.append(chr(arg))
        else:
            runs.append("".join(current))
            current = []
    runs.append("".join(current))
    return runs
