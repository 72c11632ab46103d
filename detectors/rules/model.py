"""What every rule is, whatever it is written in: metadata, tests and one ``evaluate``.

Sigma rules, Sigma correlations and Python rules all implement ``Rule``; the engine, the CLI,
the linter and the test runner only ever talk to this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from detectors.alert import Severity
from detectors.rules.context import BatchContext

LEVEL_SEVERITY: dict[str, Severity] = {
    "informational": "info",
    "info": "info",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}
DEFAULT_SCORE: dict[str, float] = {
    "info": 0.1,
    "low": 0.3,
    "medium": 0.5,
    "high": 0.75,
    "critical": 0.95,
}
DEFAULT_DEDUP = ("account", "principal", "resource")

Matches = np.ndarray | list[np.ndarray]
"""A boolean row mask (alerts are grouped by the rule's dedup fields) or explicit row groups
(one alert per group: correlation windows)."""


@dataclass(frozen=True)
class RuleTests:
    """A rule's own raw test records (CloudTrail records or Cloud Logging LogEntries)."""

    positive: list[dict[str, Any]] = field(default_factory=list)
    negative: list[dict[str, Any]] = field(default_factory=list)
    positive_sets: list[list[dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def from_block(cls, block: Any) -> RuleTests:
        block = block if isinstance(block, dict) else {}

        def records(key: str) -> list[dict[str, Any]]:
            value = block.get(key) or []
            return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []

        sets = block.get("positive_sets") or []
        return cls(
            positive=records("positive"),
            negative=records("negative"),
            positive_sets=[
                [r for r in s if isinstance(r, dict)] for s in sets if isinstance(s, list)
            ],
        )

    @property
    def has_positive(self) -> bool:
        return bool(self.positive or any(self.positive_sets))


@dataclass(frozen=True)
class RuleMeta:
    """The metadata an alert and an analyst need, common to every kind of rule."""

    rule_id: str
    title: str
    kind: str  # "sigma", "correlation" or "python"
    severity: Severity
    score: float
    tags: tuple[str, ...]
    runbook: str | None
    dedup: tuple[str, ...] = DEFAULT_DEDUP
    title_template: str | None = None
    description: str = ""
    sigma_id: str | None = None
    source: Path | None = None
    requires_data_events: bool = False
    log_types: tuple[str, ...] = ()
    """The audit log types the rule reads, when it names them (``detectors.rules.log_types``)."""
    tests: RuleTests = field(default_factory=RuleTests)
    generate: bool = True
    """False for a correlation's base rule: it feeds the correlation and raises nothing itself."""
    builtin: bool = False
    """Part of functrail's own pack (held to the pack's lint bar), not a rule a user brought."""
    named: bool = True
    """The rule has a ``name``; a user's Sigma rule without one is known by its Sigma ``id``."""


def attack_tags(tags: list[str]) -> tuple[str, ...]:
    """Sigma tags as alert tags: ``attack.t1546.001`` -> ``T1546.001``, others kept as written."""
    out: list[str] = []
    for tag in tags:
        low = tag.lower()
        if low.startswith("attack.t") and low[8:9].isdigit():
            out.append(tag[7:].upper())
        else:
            out.append(tag)
    return tuple(dict.fromkeys(out))


@runtime_checkable
class Rule(Protocol):
    """One detection, as the engine runs it."""

    meta: RuleMeta

    def fields(self) -> frozenset[str]:
        """Every field the rule reads (columns, raw paths, enrichments): for lint."""
        ...

    def prepare(self, ctx: BatchContext) -> None:
        """Column-only pass: tell ``ctx`` which raw fields the surviving rows need."""
        ...

    def evaluate(self, ctx: BatchContext) -> Matches:
        """Rows (mask) or row groups that match, after ``ctx.load()``."""
        ...
