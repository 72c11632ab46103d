"""Alert counts by (severity, status), kept by whoever writes alerts, in the same transaction.

A hook on every ORM flush adds what the flush changes: +1 for a new alert, -1/+1 when its
severity or status moves, -1 for a deleted one. Nothing else has to remember to call it, so
``save_alerts``, triage and whatever comes later keep the counts exact; ``/metrics`` then reads
``alert_counts`` (one row per pair) instead of a GROUP BY over every alert per scrape.
Writes that bypass the ORM (bulk UPDATE/DELETE statements) would bypass the counts too: the
alert store has none.

Shadow alerts (``AlertRow.shadow``, fixed when the row is made) are not counted: ``/metrics``
is what dashboards page on, and a rule in shadow mode must not page anyone.

Pairs are updated in sorted order, so two concurrent transactions lock the counter rows in the
same order and cannot deadlock on them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from service.alerts.models import AlertCountRow, AlertRow

Pair = tuple[str, str]


def alert_counts(session: Session) -> dict[Pair, int]:
    """Stored alerts by (severity, status), pairs with none left out."""
    rows = session.execute(select(AlertCountRow.severity, AlertCountRow.status, AlertCountRow.n))
    return {(severity, status): int(n) for severity, status, n in rows if n}


@event.listens_for(Session, "before_flush")
def _count_changes(session: Session, _context: Any, _instances: Any) -> None:
    delta: Counter[Pair] = Counter()
    for row in session.new:
        if isinstance(row, AlertRow) and not row.shadow:
            delta[(row.severity, row.status)] += 1
    for row in session.deleted:
        if isinstance(row, AlertRow) and not row.shadow:
            delta[_committed(row)] -= 1
    for row in session.dirty:
        if isinstance(row, AlertRow) and not row.shadow:
            before, after = _committed(row), (row.severity, row.status)
            if before != after:
                delta[before] -= 1
                delta[after] += 1
    changed = {pair: n for pair, n in delta.items() if n}
    if changed:
        _apply(session, changed)


def _committed(row: AlertRow) -> Pair:
    """(severity, status) as the database holds them before this flush."""
    state = inspect(row)
    values = []
    for name in ("severity", "status"):
        history = state.attrs[name].history
        values.append(history.deleted[0] if history.deleted else getattr(row, name))
    return values[0], values[1]


def _apply(session: Session, changed: dict[Pair, int]) -> None:
    connection = session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    for (severity, status), n in sorted(changed.items()):
        stmt = insert(AlertCountRow).values(severity=severity, status=status, n=n)
        stmt = stmt.on_conflict_do_update(
            index_elements=["severity", "status"], set_={"n": AlertCountRow.n + n}
        )
        connection.execute(stmt)


def subtract_counts(session: Session, removed: dict[Pair, int]) -> None:
    """Take bulk-deleted alerts (retention) off the counts: a bulk DELETE bypasses the hook."""
    changed = {pair: -n for pair, n in removed.items() if n}
    if changed:
        _apply(session, changed)
