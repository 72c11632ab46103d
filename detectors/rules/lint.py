"""Static and test-data checks on rules, for ``functrail rules lint``.

The important one is the silent-miss check: every field a rule reads must be present in at
least one of its own test events after the real normalizer, otherwise a typo'd raw path or a
field the normalizer never fills makes the rule quietly never fire.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from detectors.rules.attack import attack
from detectors.rules.compile import is_lone_wildcard
from detectors.rules.context import BatchContext, is_row_level
from detectors.rules.loader import Loaded
from detectors.rules.model import Rule
from detectors.rules.sigma_rules import SigmaDetectionRule
from detectors.rules.testing import normalize_records
from pipelines.settings import Settings

_RULE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")
_API_VERSION_SUFFIX = re.compile(r"\d{8}(v\d+)?$")
_UNREADABLE = "unreadable field"


Level = Literal["error", "warning"]
LOAD = "-"
"""The rule_id of a finding about a file (or rule) that did not load; the reason names it."""


@dataclass(frozen=True)
class Finding:
    rule_id: str
    source: str
    message: str
    level: Level = "error"

    def line(self) -> str:
        prefix = "" if self.level == "error" else "warning: "
        rule = "" if self.rule_id == LOAD else f"{self.rule_id}: "
        return f"{prefix}{self.source}: {rule}{self.message}"


def lint_rules(loaded: Loaded, settings: Settings | None = None) -> list[Finding]:
    """All findings over a set of loaded rules (load errors included).

    The pack is held to its bar (ATT&CK, runbook, tests, fields present in the tests, names)
    as errors; for a user's rule the same checks are warnings. What cannot load, or can never
    match (an ``action`` value the normalizer never writes), is an error for every rule.
    """
    findings = [Finding(LOAD, e.source, e.reason) for e in loaded.errors]
    ids = Counter(rule.meta.sigma_id for rule in loaded.rules if rule.meta.sigma_id)
    known = attack()
    for rule in loaded.rules:
        meta = rule.meta
        where = str(meta.source or f"python:{meta.rule_id}")
        quality: Level = "error" if meta.builtin else "warning"

        def add(
            message: str, level: Level = quality, rule_id: str = meta.rule_id, where: str = where
        ) -> None:
            findings.append(Finding(rule_id, where, message, level))

        if meta.sigma_id and ids[meta.sigma_id] > 1:
            add(f"Sigma id {meta.sigma_id} is not unique")
        if meta.kind != "python":
            try:
                uuid.UUID(str(meta.sigma_id))
            except ValueError:
                add(f"Sigma id {meta.sigma_id!r} is not a UUID")
        if (meta.named or meta.builtin) and not _RULE_ID.match(meta.rule_id):
            add("rule name must be snake_case ([a-z][a-z0-9_]*)")
        if not any(_TECHNIQUE.match(tag) for tag in meta.tags):
            add("no ATT&CK technique tag (attack.tNNNN)")
        for tag in meta.tags:
            if _TECHNIQUE.match(tag) and known.get(tag) is None:
                add(
                    f"{tag} is not in ATT&CK {known.version}, the map functrail ships (a typo, a"
                    " revoked or deprecated technique, or one from a newer release)"
                )
        if not meta.runbook:
            add("no functrail.runbook")
        if not meta.tests.has_positive:
            add("no positive test (functrail.tests.positive or positive_sets)")
        if not meta.tests.negative:
            add("no negative test (functrail.tests.negative)")
        if isinstance(rule, SigmaDetectionRule):
            for message, never_matches in _value_findings(rule):
                add(message, "error" if never_matches else quality)
        for message in _missing_fields(rule, settings):
            add(message, "error" if message.startswith(_UNREADABLE) else quality)
    return findings


def _value_findings(rule: SigmaDetectionRule) -> list[tuple[str, bool]]:
    """(message, the value can never match) per suspicious value."""
    out: list[tuple[str, bool]] = []
    for leaf in rule.tree.leaves():
        if is_lone_wildcard(leaf.value):
            out.append(
                (
                    f"{leaf.written}: '*' is a Sigma wildcard that matches any value; write '\\*'"
                    " for a literal asterisk (or use |exists)",
                    False,
                )
            )
        if leaf.written == "action":
            text = str(leaf.value)
            if _API_VERSION_SUFFIX.search(text):
                message = (
                    f"action value {text!r} has an API-version suffix; `action` is stripped"
                    " (match raw_action, or eventName, for the logged name)"
                )
                out.append((message, True))
            elif "." in text:
                message = (
                    f"action value {text!r} is a fully qualified method name; `action` is its"
                    " last segment (match raw_action for the logged name)"
                )
                out.append((message, True))
    return out


def _missing_fields(rule: Rule, settings: Settings | None) -> list[str]:
    tests = rule.meta.tests
    groups = [tests.positive, tests.negative, *tests.positive_sets]
    frames = []
    for n, records in enumerate(g for g in groups if g):
        events, problems = normalize_records(records, f"{rule.meta.rule_id} tests {n}", settings)
        if problems:
            return problems
        frames.append(events)
    if not frames:
        return []
    ctx = BatchContext(pd.concat(frames, ignore_index=True))
    out: list[str] = []
    for name in sorted(rule.fields()):
        try:
            present = bool(ctx.values(name, None).present().any())
        except Exception as exc:  # an enrichment crashing on test data is itself a finding
            out.append(f"{_UNREADABLE} {name!r} cannot be read: {type(exc).__name__}: {exc}")
            continue
        if not present:
            kind = "raw path / enrichment" if is_row_level(name) else "column"
            out.append(
                f"field {name!r} ({kind}) is absent from every test event: the rule may never fire"
            )
    return out
