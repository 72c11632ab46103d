"""MITRE ATT&CK Enterprise techniques: their names and tactics, as ATT&CK itself maps them.

A rule's tags name techniques; the tactics a technique serves are ATT&CK's, not whatever
tactic tags a rule author added (a rule tagged ``attack.initial_access`` and ``T1098`` does not
make Account Manipulation an initial-access technique). The map is the current ATT&CK
release's, shipped with the package (``attack_enterprise.json``, about 60 KB), so coverage and
lint work offline; an id that is not in it (a typo, a revoked or deprecated technique) is a
lint finding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

DATA: Final = Path(__file__).resolve().parent / "attack_enterprise.json"
TACTICS: Final = (
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
)
"""Enterprise tactics by their ATT&CK short names, in matrix order."""


@dataclass(frozen=True)
class Technique:
    id: str
    name: str
    tactics: tuple[str, ...]


@dataclass(frozen=True)
class Attack:
    """The technique map of one ATT&CK release."""

    version: str
    techniques: dict[str, Technique]

    def get(self, technique_id: str) -> Technique | None:
        return self.techniques.get(technique_id.upper())

    def name(self, technique_id: str) -> str:
        """``T1098.001`` -> ``Account Manipulation: Additional Cloud Credentials``."""
        found = self.get(technique_id)
        if found is None:
            return ""
        parent = self.get(technique_id.split(".")[0]) if "." in technique_id else None
        return f"{parent.name}: {found.name}" if parent else found.name


@cache
def attack() -> Attack:
    """The shipped map (read once per process)."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    techniques = {
        tid: Technique(tid, str(entry["name"]), tuple(entry["tactics"]))
        for tid, entry in data["techniques"].items()
    }
    return Attack(str(data["attack"]), techniques)
