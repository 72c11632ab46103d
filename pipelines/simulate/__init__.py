"""Simulated serverless audit logs with labelled attacks: tests, the demo and benchmarks use it.

``simulate(out, days, seed, attacks)`` writes CloudTrail S3-layout files and Cloud Audit Logs
sink files plus ``labels.jsonl``; ``ATTACKS`` lists the scenarios by name.
"""

from __future__ import annotations

from pipelines.simulate.attacks import ATTACKS, Attack, Label, UnknownAttack, resolve
from pipelines.simulate.core import OutputExists, SimulationResult, simulate

__all__ = [
    "ATTACKS",
    "Attack",
    "Label",
    "OutputExists",
    "SimulationResult",
    "UnknownAttack",
    "resolve",
    "simulate",
]
