"""``functrail rules list|test|lint``: what rules there are, and whether they work."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.table import Table
from rich.text import Text

from pipelines.settings import Settings
from service.cli.app import CommandFailed, app, err, out_console
from service.cli.normalize import printable

if TYPE_CHECKING:
    from detectors.rules.loader import Loaded

rules_app = typer.Typer(help="List, test and lint the detection rules.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

RulesOption = Annotated[
    list[Path] | None,
    typer.Option("--rules", help="extra Sigma rule folder (repeatable), beside the pack"),
]


class Format(StrEnum):
    jsonl = "jsonl"
    table = "table"


class CoverageFormat(StrEnum):
    table = "table"
    navigator = "navigator"


def _say(text: str) -> None:
    err.print(printable(text), markup=False, highlight=False, soft_wrap=True)


def _load(folders: list[Path] | None, settings: Settings) -> Loaded:
    from detectors.rules.loader import load_rules

    extra = [*(folders or []), *([settings.rules_dir] if settings.rules_dir else [])]
    return load_rules(extra)


@rules_app.command("list")
def list_rules(
    output: Annotated[
        Format | None, typer.Option("--format", "-f", help="table (default on a terminal) or jsonl")
    ] = None,
    rules: RulesOption = None,
) -> None:
    """List the rules: id, kind, severity, ATT&CK tags, title."""
    loaded = _load(rules, Settings())
    for error in loaded.errors:
        _say(f"rule not loaded: {error.line()}")
    fmt = output or (Format.table if sys.stdout.isatty() else Format.jsonl)
    metas = sorted((r.meta for r in loaded.rules), key=lambda m: m.rule_id)
    if fmt is Format.jsonl:
        out = sys.stdout.buffer
        for m in metas:
            row = {
                "rule_id": m.rule_id,
                "kind": m.kind,
                "title": m.title,
                "severity": m.severity,
                "score": m.score,
                "tags": list(m.tags),
                "dedup": list(m.dedup),
                "generates_alerts": m.generate,
                "requires_data_events": m.requires_data_events,
                "sigma_id": m.sigma_id,
                "origin": "pack" if m.builtin else "user",
                "source": str(m.source) if m.source else None,
            }
            out.write(orjson.dumps(row) + b"\n")
        out.flush()
        return
    table = Table("rule", "kind", "severity", "tags", "title")
    for m in metas:
        table.add_row(
            Text(m.rule_id),
            Text(m.kind + ("" if m.generate else " (base)")),
            Text(m.severity),
            Text(" ".join(t for t in m.tags if t[:1] == "T")),
            Text(printable(m.title)),
        )
    out_console().print(table, markup=False, highlight=False)


@rules_app.command("test")
def run_tests(
    rule_ids: Annotated[list[str] | None, typer.Argument(help="rule ids (default: all)")] = None,
    rules: RulesOption = None,
) -> None:
    """Run each rule's own test records through the real normalizer and the engine."""
    from detectors.rules.testing import run_rule_tests

    settings = Settings()
    loaded = _load(rules, settings)
    selected = loaded.rules
    if rule_ids:
        known = {r.meta.rule_id for r in loaded.rules}
        missing = [i for i in rule_ids if i not in known]
        if missing:
            raise CommandFailed(f"no such rule: {', '.join(missing)}")
        selected = [r for r in loaded.rules if r.meta.rule_id in rule_ids]
    failed = 0
    for error in loaded.errors:
        failed += 1
        _say(f"FAIL {error.line()}")
    for rule in sorted(selected, key=lambda r: r.meta.rule_id):
        result = run_rule_tests(rule, settings)
        if result.ok and not result.checked:
            _say(f"skip {rule.meta.rule_id} (a user rule with no test records)")
            continue
        if result.ok:
            _say(f"ok   {rule.meta.rule_id} ({result.checked} checks)")
            continue
        failed += 1
        for failure in result.failures:
            _say(f"FAIL {rule.meta.rule_id}: {failure}")
    _say(f"{len(selected)} rules tested, {failed} failed")
    if failed:
        raise typer.Exit(1)


@rules_app.command("lint")
def lint(
    rules: RulesOption = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="user rules' warnings fail too (as the pack's do)")
    ] = False,
) -> None:
    """Check every rule: loads, fields present in its tests, ATT&CK tags, runbook, tests, ids.

    The pack's findings are errors; a user rule's missing runbook, tests or ATT&CK tag are
    warnings (exit 0) unless --strict. A rule that cannot load is always an error (exit 1).
    """
    from detectors.rules.lint import lint_rules

    settings = Settings()
    loaded = _load(rules, settings)
    findings = lint_rules(loaded, settings)
    for finding in findings:
        _say(finding.line())
    errors = sum(f.level == "error" for f in findings)
    warnings = len(findings) - errors
    _say(f"{len(loaded.rules)} rules, {errors} errors, {warnings} warnings")
    if errors or (strict and warnings):
        raise typer.Exit(1)


@rules_app.command("coverage")
def coverage_command(
    output: Annotated[
        CoverageFormat,
        typer.Option("--format", "-f", help="table, or an ATT&CK Navigator layer (JSON)"),
    ] = CoverageFormat.table,
    rules: RulesOption = None,
) -> None:
    """ATT&CK techniques the loaded rules (pack and user rules) raise alerts for, by tactic."""
    from detectors.rules.coverage import by_tactic, coverage, navigator_layer

    loaded = _load(rules, Settings())
    for error in loaded.errors:
        _say(f"rule not loaded: {error.line()}")
    covered = coverage(loaded.rules)
    alerting = [r for r in loaded.rules if r.meta.generate]
    users = sum(not r.meta.builtin for r in alerting)
    summary = (
        f"{len(covered)} ATT&CK techniques covered by {len(alerting)} alerting rules"
        f" ({len(alerting) - users} pack, {users} user)"
    )
    if output is CoverageFormat.navigator:
        layer = navigator_layer(covered, name="functrail rules", description=summary)
        sys.stdout.buffer.write(orjson.dumps(layer, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
        return
    table = Table("tactic", "technique", "name", "rules", title=summary)
    for tactic, rows in by_tactic(covered).items():
        for n, row in enumerate(rows):
            table.add_row(
                Text(tactic if n == 0 else ""),
                Text(row.technique),
                Text(row.name),
                Text(printable(", ".join(row.rules))),
                end_section=n == len(rows) - 1,
            )
    out_console().print(table, markup=False, highlight=False)
