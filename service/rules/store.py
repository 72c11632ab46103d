"""Rule switches. The rule engine is handed ``disabled_rules()``; a rule without a row is on."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.rules.models import RuleStateRow


def disabled_rules(session: Session) -> set[str]:
    """Ids of the rules an admin switched off."""
    return set(session.scalars(select(RuleStateRow.rule_id).where(RuleStateRow.enabled.is_(False))))


def rule_states(session: Session) -> dict[str, bool]:
    return {row.rule_id: row.enabled for row in session.scalars(select(RuleStateRow))}


def set_rule_enabled(session: Session, rule_id: str, enabled: bool, *, actor: str) -> None:
    row = session.get(RuleStateRow, rule_id, with_for_update=True)
    if row is None:
        session.add(
            RuleStateRow(rule_id=rule_id, enabled=enabled, updated_at=utcnow(), updated_by=actor)
        )
    else:
        row.enabled, row.updated_at, row.updated_by = enabled, utcnow(), actor
    session.flush()
