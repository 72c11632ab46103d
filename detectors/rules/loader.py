"""Load rules: the built-in pack (package data), user folders, and the Python rules.

A file that does not load never stops the others: it becomes a ``LoadError`` naming the file
and why, which ``functrail rules lint`` reports and ``functrail detect`` prints on stderr.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from detectors.rules.compile import UnsupportedRule
from detectors.rules.log_types import declared_log_types, needs_data_events
from detectors.rules.model import (
    DEFAULT_DEDUP,
    DEFAULT_SCORE,
    LEVEL_SEVERITY,
    Rule,
    RuleMeta,
    RuleTests,
    attack_tags,
)
from detectors.rules.registry import RuleRegistry
from detectors.rules.sigma_rules import SigmaCorrelation, SigmaDetectionRule

PACK_DIR = Path(__file__).resolve().parent / "pack"


@dataclass(frozen=True)
class LoadError:
    """A rule file (or one document in it) that could not be loaded."""

    source: str
    reason: str

    def line(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass
class Loaded:
    rules: list[Rule]
    errors: list[LoadError]


def rule_files(folders: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        if folder.is_file():
            files.append(folder)
        elif folder.is_dir():
            files.extend(sorted([*folder.rglob("*.yml"), *folder.rglob("*.yaml")]))
    return files


def _meta(sigma: SigmaRule | SigmaCorrelationRule, source: Path, generate: bool) -> RuleMeta:
    custom: dict[str, Any] = dict(sigma.custom_attributes or {})
    extra = custom.get("functrail") or {}
    if not isinstance(extra, dict):
        raise ValueError("the functrail: block must be a mapping")
    if not sigma.name:
        raise ValueError("rule has no `name` (the functrail rule_id)")
    level = sigma.level.name.lower() if sigma.level else "medium"
    severity = LEVEL_SEVERITY.get(str(extra.get("severity") or level).lower())
    if severity is None:
        raise ValueError(f"unknown severity {extra.get('severity')!r}")
    score = float(extra.get("score", DEFAULT_SCORE[severity]))
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"functrail.score {score} is outside 0..1")
    dedup = extra.get("dedup") or list(DEFAULT_DEDUP)
    log_types = declared_log_types(extra.get("log_types"))
    return RuleMeta(
        rule_id=str(sigma.name),
        title=str(sigma.title),
        kind="correlation" if isinstance(sigma, SigmaCorrelationRule) else "sigma",
        severity=severity,
        score=score,
        tags=attack_tags([str(t) for t in sigma.tags or []]),
        runbook=(str(extra["runbook"]).strip() or None) if extra.get("runbook") else None,
        dedup=tuple(str(d) for d in dedup),
        title_template=str(extra["title"]) if extra.get("title") else None,
        description=str(sigma.description or "").strip(),
        sigma_id=str(sigma.id) if sigma.id else None,
        source=source,
        requires_data_events=bool(extra.get("requires_data_events"))
        or needs_data_events(log_types),
        log_types=log_types,
        tests=RuleTests.from_block(extra.get("tests")),
        generate=generate,
    )


def load_file(path: Path) -> Loaded:
    """Every rule in one YAML file (a Sigma rule, optionally followed by correlations)."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        list(yaml.safe_load_all(text))  # clear YAML errors before pySigma's
        collection = SigmaCollection.from_yaml(text, collect_errors=True, resolve_references=False)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, SigmaError) as exc:
        return Loaded([], [LoadError(where, f"cannot parse: {exc}")])
    errors = [LoadError(where, str(e)) for e in collection.errors]
    items = list(collection.rules)
    for item in items:
        errors.extend(LoadError(where, str(e)) for e in getattr(item, "errors", []) or [])
    if errors:
        return Loaded([], errors)
    silenced: set[str] = set()
    for item in items:
        if isinstance(item, SigmaCorrelationRule) and not item.generate:
            silenced.update(ref.reference for ref in item.rules or [])
    rules: list[Rule] = []
    by_name: dict[str, SigmaDetectionRule] = {}
    for item in items:
        try:
            if isinstance(item, SigmaRule):
                generate = str(item.name) not in silenced and str(item.id) not in silenced
                rule = SigmaDetectionRule.build(_meta(item, path, generate), item)
                by_name[str(item.name)] = rule
                if item.id:
                    by_name[str(item.id)] = rule
                rules.append(rule)
            elif isinstance(item, SigmaCorrelationRule):
                bases = []
                for ref in item.rules or []:
                    base = by_name.get(ref.reference)
                    if base is None:
                        raise ValueError(
                            f"correlation references {ref.reference!r}, which is not a rule in"
                            " the same file"
                        )
                    bases.append(base)
                correlation = SigmaCorrelation(_meta(item, path, True), item, bases)
                correlation.fields()  # unsupported conditions fail at load time
                rules.append(correlation)
        except (SigmaError, UnsupportedRule, ValueError, KeyError) as exc:
            name = getattr(item, "name", None) or getattr(item, "title", "?")
            errors.append(LoadError(where, f"rule {name}: {exc}"))
    return Loaded(rules, errors)


def load_registry(
    folders: Iterable[Path] = (), enabled: Mapping[str, bool] | None = None
) -> tuple[RuleRegistry, list[LoadError]]:
    """The pack plus user folders as a registry with the given enabled state (service, CLI).

    A duplicate rule id across folders is reported as a load error and the later one skipped.
    """
    loaded = load_rules(folders)
    errors = list(loaded.errors)
    unique: dict[str, Rule] = {}
    for rule in loaded.rules:
        if rule.meta.rule_id in unique:
            where = str(rule.meta.source or rule.meta.rule_id)
            errors.append(LoadError(where, f"duplicate rule id {rule.meta.rule_id!r} skipped"))
            continue
        unique[rule.meta.rule_id] = rule
    return RuleRegistry(unique.values(), enabled), errors


def load_rules(folders: Iterable[Path] = (), *, builtin: bool = True) -> Loaded:
    """The built-in pack and Python rules (unless ``builtin`` is False) plus user folders."""
    from detectors.rules.python import python_rules

    paths = [*([PACK_DIR] if builtin else []), *folders]
    rules: list[Rule] = list(python_rules()) if builtin else []
    errors: list[LoadError] = []
    for folder in paths:
        if not folder.exists():
            errors.append(LoadError(str(folder), "no such rules folder"))
    for path in rule_files(paths):
        loaded = load_file(path)
        rules.extend(loaded.rules)
        errors.extend(loaded.errors)
    return Loaded(rules, errors)
