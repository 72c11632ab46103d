"""API models of ``/v1/baselines``."""

from __future__ import annotations

from pydantic import BaseModel


class BaselineAdjustment(BaseModel):
    """One widening: first-seen values made known to a principal, or a floor under a series'
    alert bar, made by a false-positive verdict on ``alert_id``; or (``unlearned``) a true
    positive's first-seen values kept unknown to its principal."""

    id: str
    rule_id: str
    alert_id: str
    provider: str | None
    account: str | None
    entity: str
    created: str
    by: str | None = None
    values: list[list[str]] = []
    floor: float | None = None
    measure: str | None = None
    unlearned: bool = False
    note: str


class BaselinePage(BaseModel):
    items: list[BaselineAdjustment]
    next_cursor: str | None = None
