"""ATT&CK coverage of the loaded rules: which techniques raise an alert, by which rules.

A rule covers the techniques of its ``attack.tNNNN`` tags, under the tactics of its
``attack.<tactic>`` tags (the pack writes ``attack.privilege_escalation``, SigmaHQ
``attack.privilege-escalation``; both are read). Only rules that raise alerts count: a
correlation's base rule covers nothing on its own, its correlation does.

``navigator_layer`` writes an ATT&CK Navigator layer (format 4.5). Its techniques carry no
``tactic``: the rules' tactic tags cannot be checked here against ATT&CK's technique-to-tactic
map, and Navigator shows a technique without one under every tactic it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from detectors.rules.model import Rule

TACTICS: Final = (
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "stealth",
    "defense-impairment",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
)
"""Enterprise tactics by their ATT&CK short names, in matrix order (v18 splits Defense
Evasion into Stealth and Defense Impairment; older tags still say defense-evasion)."""
NO_TACTIC: Final = "(no tactic tag)"

ATTACK_VERSION: Final = "18"
NAVIGATOR_VERSION: Final = "5.2.0"
LAYER_VERSION: Final = "4.5"
GRADIENT: Final = ("#ffe766", "#8ec843")


@dataclass(frozen=True)
class Covered:
    """One technique and the rules that raise alerts for it."""

    technique: str
    tactics: tuple[str, ...]
    rules: tuple[str, ...]
    titles: tuple[str, ...]


def tactic_of(tag: str) -> str | None:
    """``attack.privilege_escalation`` / ``attack.Privilege-Escalation`` -> its short name."""
    low = tag.lower()
    if not low.startswith("attack."):
        return None
    name = low[len("attack.") :].replace("_", "-")
    return name if name in TACTICS else None


def is_technique(tag: str) -> bool:
    """``T1190`` or ``T1078.004`` (``attack_tags`` has already upper-cased Sigma's form)."""
    head, _, sub = tag.partition(".")
    return (
        len(head) == 5
        and head[0] == "T"
        and head[1:].isdigit()
        and (not sub or (len(sub) == 3 and sub.isdigit()))
    )


def coverage(rules: Iterable[Rule]) -> list[Covered]:
    """Every technique the alerting rules are tagged with, in technique order."""
    found: dict[str, tuple[set[str], dict[str, str]]] = {}
    for rule in rules:
        meta = rule.meta
        if not meta.generate:
            continue
        tactics = {t for t in map(tactic_of, meta.tags) if t}
        for tag in meta.tags:
            if is_technique(tag):
                seen_tactics, seen_rules = found.setdefault(tag, (set(), {}))
                seen_tactics.update(tactics)
                seen_rules[meta.rule_id] = meta.title
    out = []
    for technique in sorted(found):
        tactics, by_rule = found[technique]
        ids = tuple(sorted(by_rule))
        out.append(
            Covered(
                technique,
                tuple(t for t in TACTICS if t in tactics),
                ids,
                tuple(by_rule[i] for i in ids),
            )
        )
    return out


def by_tactic(covered: list[Covered]) -> dict[str, list[Covered]]:
    """Techniques grouped under each tactic their rules name, in matrix order."""
    groups: dict[str, list[Covered]] = {}
    for tactic in (*TACTICS, NO_TACTIC):
        rows = [
            c for c in covered if tactic in c.tactics or (tactic == NO_TACTIC and not c.tactics)
        ]
        if rows:
            groups[tactic] = rows
    return groups


def navigator_layer(covered: list[Covered], *, name: str, description: str) -> dict[str, Any]:
    """An ATT&CK Navigator layer: one technique per entry, scored by how many rules cover it."""
    most = max((len(c.rules) for c in covered), default=1)
    low = 1 if most > 1 else 0  # Navigator needs maxValue > minValue
    legend = [{"label": f"covered by {most} rule{'s' if most > 1 else ''}", "color": GRADIENT[1]}]
    if most > 1:
        legend.insert(0, {"label": "covered by 1 rule", "color": GRADIENT[0]})
    return {
        "name": name,
        "versions": {
            "attack": ATTACK_VERSION,
            "navigator": NAVIGATOR_VERSION,
            "layer": LAYER_VERSION,
        },
        "domain": "enterprise-attack",
        "description": description,
        "sorting": 3,
        "layout": {"layout": "side", "showID": True, "expandedSubtechniques": "annotated"},
        "hideDisabled": False,
        "techniques": [
            {
                "techniqueID": c.technique,
                "score": len(c.rules),
                "comment": ", ".join(c.rules),
                "enabled": True,
                "metadata": [
                    {"name": "rule", "value": f"{rule_id}: {title}"}
                    for rule_id, title in zip(c.rules, c.titles, strict=True)
                ],
                "showSubtechniques": False,
            }
            for c in covered
        ],
        "gradient": {"colors": list(GRADIENT), "minValue": low, "maxValue": most},
        "legendItems": legend,
    }
