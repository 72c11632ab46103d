"""Writing and reading the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from service.audit.models import AuditRow
from service.db import utcnow
from service.query import Order, Page, paginate, where_equal

MAX_QUERY_CHARS = 2048


@dataclass(frozen=True)
class AuditEntry:
    method: str
    route: str
    query: str
    status_code: int
    client_ip: str | None
    key_id: str | None = None
    role: str | None = None
    at: datetime = field(default_factory=utcnow)
    """when the call was answered (not when its row was written)"""


def record_call(session: Session, entry: AuditEntry) -> None:
    """One API call, as it was answered."""
    record_calls(session, [entry])


def record_calls(session: Session, entries: Sequence[AuditEntry]) -> None:
    """Many API calls in one statement (the API's batched writer). Does not commit."""
    if entries:
        session.execute(insert(AuditRow), [_row(entry) for entry in entries])


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at,
        "key_id": entry.key_id,
        "role": entry.role,
        "method": entry.method[:16],
        "route": entry.route,
        "query": entry.query[:MAX_QUERY_CHARS],
        "status_code": entry.status_code,
        "client_ip": (entry.client_ip or None) and entry.client_ip[:64],
    }


def list_calls(
    session: Session, *, key_id: str | None = None, limit: int = 100, cursor: str | None = None
) -> Page[AuditRow]:
    stmt = where_equal(select(AuditRow), {AuditRow.key_id: key_id})
    return paginate(session, stmt, [Order(AuditRow.id)], limit=limit, cursor=cursor)
