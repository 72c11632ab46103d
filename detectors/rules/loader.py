"""Load rules: the built-in pack (package data), user folders, and the Python rules.

A file that does not load never stops the others: it becomes a ``LoadError`` naming the file
and why, which ``functrail rules lint`` reports and ``functrail detect`` prints on stderr.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from sigma.correlations import SigmaCorrelationRule
    from sigma.rule import SigmaRule

# yaml and pySigma are imported where a rule file is parsed (``load_file``), not here: a run
# whose rule files all come from the plan cache needs neither (~0.08 s of each start-up).

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
    """A rule's metadata: the ``functrail:`` block when there is one, Sigma's own fields (and
    defaults by ``level``) otherwise, so a SigmaHQ rule loads as it was published."""
    from sigma.correlations import SigmaCorrelationRule

    custom: dict[str, Any] = dict(sigma.custom_attributes or {})
    extra = custom.get("functrail") or {}
    if not isinstance(extra, dict):
        raise ValueError("the functrail: block must be a mapping")
    rule_id = str(sigma.name or sigma.id or "")
    if not rule_id:
        raise ValueError("rule has neither a `name` nor an `id` (one of them is its rule_id)")
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
        rule_id=rule_id,
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
        builtin=source.resolve().is_relative_to(PACK_DIR),
        named=bool(sigma.name),
    )


def _rule_id(item: SigmaRule | SigmaCorrelationRule) -> str:
    return str(item.name or item.id or getattr(item, "title", "?"))


def load_file(path: Path) -> Loaded:
    """Every rule in one YAML file (a Sigma rule, optionally followed by correlations)."""
    import yaml
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule
    from sigma.exceptions import SigmaError
    from sigma.rule import SigmaRule

    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        # parsed once, by libyaml when present (pySigma's from_yaml would parse it again in
        # Python: YAML was 90% of the time to load the pack)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        docs = list(yaml.load_all(text, Loader=loader))
        collection = SigmaCollection.from_dicts(docs, collect_errors=True, resolve_references=False)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, SigmaError) as exc:
        return Loaded([], [LoadError(where, f"cannot parse: {exc}")])
    errors = [LoadError(where, str(e)) for e in collection.errors]
    items = list(collection.rules)
    for item in items:
        errors.extend(LoadError(where, str(e)) for e in getattr(item, "errors", []) or [])
    if errors:
        return Loaded([], list(dict.fromkeys(errors)))  # pySigma may report one error twice
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
                if item.name:
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
                correlation = SigmaCorrelation.build(_meta(item, path, True), item, bases)
                correlation.fields()  # unsupported conditions fail at load time
                rules.append(correlation)
        except (SigmaError, UnsupportedRule, ValueError, KeyError) as exc:
            errors.append(LoadError(where, f"rule {_rule_id(item)}: {exc}"))
    return Loaded(rules, errors)


def load_registry(
    folders: Iterable[Path] = (),
    enabled: Mapping[str, bool] | None = None,
    *,
    cache_dir: Path | None = None,
) -> tuple[RuleRegistry, list[LoadError]]:
    """The pack plus user folders as a registry with the given enabled state (service, CLI)."""
    loaded = load_rules(folders, cache_dir=cache_dir)
    return RuleRegistry(loaded.rules, enabled), loaded.errors


def load_rules(
    folders: Iterable[Path] = (), *, builtin: bool = True, cache_dir: Path | None = None
) -> Loaded:
    """The built-in pack and Python rules (unless ``builtin`` is False) plus user folders.

    Rule ids are unique: a rule whose id an earlier one (the pack first) already has is a load
    error naming both files, and is not loaded. With ``cache_dir``, each file's compiled rules
    are read from (and written to) the plan cache there (``plan_cache``).
    """
    from detectors.rules.plan_cache import load_cached
    from detectors.rules.python import python_rules

    paths = [*([PACK_DIR] if builtin else []), *folders]
    rules: list[Rule] = list(python_rules()) if builtin else []
    errors: list[LoadError] = []
    for folder in paths:
        if not folder.exists():
            errors.append(LoadError(str(folder), "no such rules folder"))
    seen: dict[str, Rule] = {rule.meta.rule_id: rule for rule in rules}
    unique: dict[Path, Path] = {}
    for path in rule_files(paths):  # a folder given twice (--rules and the setting) loads once
        unique.setdefault(path.resolve(), path)
    for resolved, path in unique.items():
        loaded = (
            load_file(path)
            if cache_dir is None
            else load_cached(path, cache_dir, load_file, resolved)
        )
        errors.extend(loaded.errors)
        for rule in loaded.rules:
            first = seen.get(rule.meta.rule_id)
            if first is not None:
                errors.append(_duplicate(rule, first))
                continue
            seen[rule.meta.rule_id] = rule
            rules.append(rule)
    return Loaded(rules, errors)


def _duplicate(rule: Rule, first: Rule) -> LoadError:
    where = first.meta.source or f"python:{first.meta.rule_id}"
    owner = "a pack rule" if first.meta.builtin else "a rule"
    return LoadError(
        str(rule.meta.source),
        f"rule {rule.meta.rule_id}: rule id {rule.meta.rule_id!r} is already {owner}'s, in"
        f" {where}; not loaded (rename it: a user rule cannot replace a pack rule)",
    )
