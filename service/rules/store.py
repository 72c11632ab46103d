"""Rule switches and modes. The rule engine is handed the on/off map; the alert store the
``ShadowPlan``. A rule without a row is on and live; so is the anomaly model without one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from detectors.alert import Alert
from service.db import utcnow
from service.rules.models import ModelStateRow, RuleStateRow

Mode = Literal["live", "shadow"]
MODES: tuple[Mode, ...] = ("live", "shadow")
ANOMALY = "anomaly"
"""the ``detector`` of the anomaly model's alerts, and the key of its mode in ``model_states``"""


@dataclass(frozen=True)
class RuleState:
    enabled: bool = True
    mode: Mode = "live"


@dataclass(frozen=True)
class ShadowPlan:
    """Which new alerts are shadow: those of rules in shadow mode, and every alert of a
    detector (the anomaly model) in shadow mode. Shadow alerts are stored, counted in rule
    stats, left out of lists, and never delivered."""

    rules: frozenset[str] = frozenset()
    detectors: frozenset[str] = frozenset()

    def __call__(self, alert: Alert) -> bool:
        if alert.detector in self.detectors:
            return True
        return alert.detector == "rule" and alert.rule_id in self.rules


NO_SHADOW = ShadowPlan()


def disabled_rules(session: Session) -> set[str]:
    """Ids of the rules an admin switched off."""
    return set(session.scalars(select(RuleStateRow.rule_id).where(RuleStateRow.enabled.is_(False))))


def rule_states(session: Session) -> dict[str, bool]:
    """The on/off map the rule engine takes (rules without a row are left out: on)."""
    return {row.rule_id: row.enabled for row in session.scalars(select(RuleStateRow))}


def rule_settings(session: Session) -> dict[str, RuleState]:
    """Every stored rule's switch and mode (rules without a row: on and live)."""
    return {
        row.rule_id: RuleState(row.enabled, _mode(row.mode))
        for row in session.scalars(select(RuleStateRow))
    }


def set_rule(
    session: Session,
    rule_id: str,
    *,
    actor: str,
    enabled: bool | None = None,
    mode: Mode | None = None,
) -> RuleState:
    """Change a rule's switch and/or mode (what is None stays); returns the rule's state."""
    row = session.get(RuleStateRow, rule_id, with_for_update=True)
    if row is None:
        row = RuleStateRow(rule_id=rule_id, enabled=True, mode="live", updated_by=actor)
        session.add(row)
    if enabled is not None:
        row.enabled = enabled
    if mode is not None:
        row.mode = mode
    row.updated_at, row.updated_by = utcnow(), actor
    session.flush()
    return RuleState(row.enabled, _mode(row.mode))


def set_rule_enabled(session: Session, rule_id: str, enabled: bool, *, actor: str) -> None:
    set_rule(session, rule_id, actor=actor, enabled=enabled)


def model_mode(session: Session, detector: str = ANOMALY) -> Mode:
    row = session.get(ModelStateRow, detector)
    return "live" if row is None else _mode(row.mode)


def set_model_mode(session: Session, mode: Mode, *, actor: str, detector: str = ANOMALY) -> Mode:
    row = session.get(ModelStateRow, detector, with_for_update=True)
    if row is None:
        row = ModelStateRow(detector=detector, updated_by=actor)
        session.add(row)
    row.mode, row.updated_at, row.updated_by = mode, utcnow(), actor
    session.flush()
    return mode


def shadow_plan(session: Session) -> ShadowPlan:
    """What the job's save marks shadow, read once per run like the on/off map."""
    rules = session.scalars(select(RuleStateRow.rule_id).where(RuleStateRow.mode == "shadow"))
    detectors = session.scalars(
        select(ModelStateRow.detector).where(ModelStateRow.mode == "shadow")
    )
    return ShadowPlan(frozenset(rules), frozenset(detectors))


def _mode(value: str | None) -> Mode:
    return "shadow" if value == "shadow" else "live"
