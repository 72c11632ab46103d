"""ATT&CK coverage of the loaded rules: which techniques raise an alert, by which rules.

A rule covers the techniques of its ``attack.tNNNN`` tags. Techniques are grouped under the
tactics ATT&CK itself maps them to (``detectors/rules/attack.py``), not under the rule's own
tactic tags: those are the author's reading and disagree between packs. A technique ATT&CK does
not know (a typo, a revoked or deprecated id) is listed apart, so it is seen. Only rules that
raise alerts count: a correlation's base rule covers nothing on its own, its correlation does.

``navigator_layer`` writes an ATT&CK Navigator layer (format 4.5). Its techniques carry no
``tactic``: Navigator then shows each under every tactic ATT&CK gives it, which is the map used
here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from detectors.rules.attack import TACTICS, attack
from detectors.rules.model import Rule

UNKNOWN: Final = "(not in the ATT&CK map)"
NAVIGATOR_VERSION: Final = "5.2.0"
LAYER_VERSION: Final = "4.5"
GRADIENT: Final = ("#ffe766", "#8ec843")


@dataclass(frozen=True)
class Covered:
    """One technique and the rules that raise alerts for it."""

    technique: str
    name: str
    """ATT&CK's name (``Account Manipulation: Additional Cloud Credentials``); empty if unknown."""
    tactics: tuple[str, ...]
    rules: tuple[str, ...]
    titles: tuple[str, ...]


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
    found: dict[str, dict[str, str]] = {}
    for rule in rules:
        meta = rule.meta
        if not meta.generate:
            continue
        for tag in meta.tags:
            if is_technique(tag):
                found.setdefault(tag, {})[meta.rule_id] = meta.title
    known = attack()
    out = []
    for technique in sorted(found):
        by_rule = found[technique]
        ids = tuple(sorted(by_rule))
        entry = known.get(technique)
        out.append(
            Covered(
                technique,
                known.name(technique),
                entry.tactics if entry else (),
                ids,
                tuple(by_rule[i] for i in ids),
            )
        )
    return out


def by_tactic(covered: list[Covered]) -> dict[str, list[Covered]]:
    """Techniques grouped under each tactic ATT&CK gives them, in matrix order; unknown ids
    last."""
    groups: dict[str, list[Covered]] = {}
    for tactic in TACTICS:
        rows = [c for c in covered if tactic in c.tactics]
        if rows:
            groups[tactic] = rows
    unknown = [c for c in covered if not c.tactics]
    if unknown:
        groups[UNKNOWN] = unknown
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
            "attack": attack().version.split(".")[0],
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
                "comment": (f"{c.name}: " if c.name else "") + ", ".join(c.rules),
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
