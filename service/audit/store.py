"""Writing and reading the audit log.

Every API call adds a row, so on PostgreSQL the rows go in by COPY: the ORM's insert (psycopg
``executemany``) cost 22-32 us of client CPU per row, COPY 5-6 us (110-row batches), and
under load the writer thread had taken 12-15% of a core in each API worker, holding the GIL
from the event loop while it built parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import psycopg
from psycopg import sql
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from service.audit.models import AuditRow
from service.db import utcnow
from service.query import Order, Page, paginate, where_equal

MAX_QUERY_CHARS = 2048
_COPIED = [column.name for column in AuditRow.__table__.columns if column.name != "id"]
_COPY = sql.SQL("COPY {} ({}) FROM STDIN").format(
    sql.Identifier(AuditRow.__tablename__), sql.SQL(", ").join(map(sql.Identifier, _COPIED))
)


@dataclass(frozen=True)
class AuditEntry:
    method: str
    route: str
    query: str
    status_code: int
    client_ip: str | None
    key_id: str | None = None
    role: str | None = None
    key_prefix: str | None = None
    at: datetime = field(default_factory=utcnow)
    """when the call was answered (not when its row was written)"""


def record_calls(session: Session, entries: Sequence[AuditEntry]) -> None:
    """Many API calls in one statement (the API's batched writer). Does not commit."""
    if not entries:
        return
    rows = [_row(entry) for entry in entries]
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(AuditRow), rows)
        return
    driver = cast(psycopg.Connection[Any], connection.connection.driver_connection)
    with driver.cursor() as cursor, cursor.copy(_COPY) as copy:
        for row in rows:
            copy.write_row([row[name] for name in _COPIED])


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at,
        "key_id": entry.key_id,
        "key_prefix": entry.key_prefix,
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
