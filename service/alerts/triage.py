"""Triage: analysts change an alert's status or assignee and leave notes; each change is kept,
and each new status or verdict is delivered (``alert.updated``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from detectors.alert import Disposition, Status
from service.alerts.models import AlertRow, TriageRow
from service.alerts.queries import AlertNotFound
from service.alerts.store import StoredAlert, to_alert, to_stored
from service.db import utcnow
from service.webhooks.outbox import enqueue_status_change

_UNSET = object()


class DispositionNotResolving(ValueError):
    """A verdict given on an alert that is not being resolved (nor already resolved)."""


@dataclass(frozen=True)
class TriageEntry:
    at: datetime
    actor: str
    status_from: str | None
    status_to: str | None
    assignee_from: str | None
    assignee_to: str | None
    note: str | None
    disposition: str | None = None


def triage(
    session: Session,
    alert_id: str,
    *,
    actor: str,
    status: Status | None = None,
    assignee: str | object | None = _UNSET,
    note: str | None = None,
    disposition: Disposition | None = None,
) -> StoredAlert:
    """Apply a triage action and record it (who, when, from -> to); returns the new state.

    A verdict belongs to a resolution: ``disposition`` is refused unless the alert ends this
    action resolved, and reopening a resolved alert clears it (the old verdict stays in the
    history), so a model never learns from a verdict on an alert still being worked.

    A new status or verdict is queued to the webhook outbox as ``alert.updated`` in the same
    transaction (a shadow alert's never): the PagerDuty incident is acknowledged or resolved
    when the analyst does it here. Assignees and notes are not delivered.
    """
    row = session.get(AlertRow, alert_id, with_for_update=True)
    if row is None:
        raise AlertNotFound(alert_id)
    if disposition is not None and (status or row.status) != "resolved":
        raise DispositionNotResolving(
            f"a disposition is given when resolving; alert {alert_id} would be "
            f"{status or row.status}"
        )
    entry = TriageRow(alert_id=row.id, at=utcnow(), actor=actor, note=note)
    changed = note is not None
    before = (row.status, row.disposition)
    if status is not None and status != row.status:
        entry.status_from, entry.status_to = row.status, status
        if row.status == "resolved" and row.disposition is not None:
            row.disposition = None
        row.status = status
        changed = True
    if disposition is not None and disposition != row.disposition:
        entry.disposition = row.disposition = disposition
        changed = True
    if assignee is not _UNSET and assignee != row.assignee:
        new = assignee if isinstance(assignee, str) else None
        entry.assignee_from, entry.assignee_to = row.assignee, new
        row.assignee = new
        changed = True
    if changed:
        row.updated_at = entry.at
        session.add(entry)
        session.flush()
        if (row.status, row.disposition) != before and not row.shadow:
            enqueue_status_change(
                session, to_alert(row), triage_id=entry.id, disposition=row.disposition
            )
    return to_stored(row)


def assignee_of(session: Session, alert_id: str) -> str | None:
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise AlertNotFound(alert_id)
    return row.assignee


def history(session: Session, alert_id: str) -> list[TriageEntry]:
    """Triage actions on an alert, oldest first."""
    stmt = select(TriageRow).where(TriageRow.alert_id == alert_id).order_by(TriageRow.id)
    return [
        TriageEntry(
            r.at,
            r.actor,
            r.status_from,
            r.status_to,
            r.assignee_from,
            r.assignee_to,
            r.note,
            r.disposition,
        )
        for r in session.scalars(stmt)
    ]
