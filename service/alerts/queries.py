"""Reading alerts: the filtered, newest-first list, one alert, and the summary counts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, Text, cast, func, or_, select
from sqlalchemy.orm import Session

from detectors.alert import SEVERITY_RANK
from service.alerts.models import AlertRow
from service.alerts.store import StoredAlert, to_stored
from service.query import Order, Page, paginate, where_equal

ALERT_ORDER = (Order(AlertRow.last_seen), Order(AlertRow.id))
"""Newest first; the id breaks ties so the keyset cursor is total."""


class AlertNotFound(LookupError):
    """No alert with that id."""


@dataclass(frozen=True)
class AlertFilter:
    """The filters of ``GET /v1/alerts`` and ``functrail alerts list``; None means any."""

    severity: str | None = None
    """minimum severity"""
    status: str | None = None
    detector: str | None = None
    rule_id: str | None = None
    provider: str | None = None
    account: str | None = None
    principal: str | None = None
    resource: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    """case-insensitive substring of title, principal, resource or rule id"""

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        stmt = where_equal(
            stmt,
            {
                AlertRow.status: self.status,
                AlertRow.detector: self.detector,
                AlertRow.rule_id: self.rule_id,
                AlertRow.provider: self.provider,
                AlertRow.account: self.account,
                AlertRow.principal: self.principal,
                AlertRow.resource: self.resource,
            },
        )
        if self.severity is not None:
            stmt = stmt.where(AlertRow.severity_rank >= SEVERITY_RANK[self.severity])
        if self.since is not None:
            stmt = stmt.where(AlertRow.last_seen >= self.since)
        if self.until is not None:
            stmt = stmt.where(AlertRow.last_seen < self.until)
        if self.q:
            stmt = stmt.where(_matches(self.q))
        return stmt


def _matches(q: str) -> ColumnElement[bool]:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    columns = (AlertRow.title, AlertRow.principal, AlertRow.resource, AlertRow.rule_id)
    return or_(*(c.ilike(pattern, escape="\\") for c in columns))


def list_alerts(
    session: Session, flt: AlertFilter, *, limit: int = 50, cursor: str | None = None
) -> Page[StoredAlert]:
    """One page of alerts matching ``flt``, newest first (BadCursor on a foreign cursor)."""
    page = paginate(session, flt.apply(select(AlertRow)), ALERT_ORDER, limit=limit, cursor=cursor)
    return Page([to_stored(row) for row in page.items], page.next_cursor)


LIST_COLUMNS: tuple[Any, ...] = (
    AlertRow.id,
    AlertRow.dedup_key,
    AlertRow.detector,
    AlertRow.rule_id,
    AlertRow.title,
    AlertRow.severity,
    AlertRow.score,
    AlertRow.provider,
    AlertRow.account,
    AlertRow.principal,
    AlertRow.resource,
    AlertRow.first_seen,
    AlertRow.last_seen,
    AlertRow.count,
    AlertRow.status,
    cast(AlertRow.tags, Text).label("tags"),
    cast(AlertRow.evidence, Text).label("evidence"),
    cast(AlertRow.explanation, Text).label("explanation"),
    AlertRow.runbook,
    AlertRow.assignee,
    AlertRow.updated_at,
)
"""The fields of ``StoredAlert``, in its order; the JSON columns as their stored text."""


def list_alert_json(
    session: Session, flt: AlertFilter, *, limit: int = 50, cursor: str | None = None
) -> bytes:
    """The page of ``list_alerts`` as ``{"items", "next_cursor"}`` JSON, built from plain rows.

    The API's hot path: no ORM objects, no pydantic model per alert, and the JSON columns
    (``save_alerts`` writes them in the contract's shape) are embedded as stored instead of
    parsed and written again; ``test_list_json_is_the_stored_alert_json`` pins the result to
    ``StoredAlert``'s JSON.
    """
    columns: Select[Any] = select(*LIST_COLUMNS)
    page = paginate(session, flt.apply(columns), ALERT_ORDER, limit=limit, cursor=cursor)
    items = [_alert_json(row._mapping) for row in page.items]
    return orjson.dumps({"items": items, "next_cursor": page.next_cursor}, option=orjson.OPT_UTC_Z)


def _alert_json(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for name in ("tags", "evidence", "explanation"):
        out[name] = _embedded(row[name])
    return out


def _embedded(stored: str | None) -> Any:
    if stored is None:
        return None
    if "NaN" in stored or "Infinity" in stored:
        # Python's json wrote a float JSON has no word for; parsed, orjson writes null
        # (as pydantic does). The words inside a string only cost this slower path.
        return json.loads(stored)
    return orjson.Fragment(stored)


def get_alert(session: Session, alert_id: str) -> StoredAlert:
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise AlertNotFound(alert_id)
    return to_stored(row)


def summarize(session: Session, flt: AlertFilter) -> dict[str, Any]:
    """Counts by severity, status, detector and day (UTC date of ``last_seen``)."""
    out: dict[str, Any] = {"total": 0}
    day = func.date(AlertRow.last_seen)
    groups = {
        "by_severity": AlertRow.severity,
        "by_status": AlertRow.status,
        "by_detector": AlertRow.detector,
        "by_day": day,
    }
    for name, column in groups.items():
        stmt = flt.apply(select(column, func.count()).select_from(AlertRow)).group_by(column)
        out[name] = {str(key): int(n) for key, n in session.execute(stmt)}
    out["total"] = sum(out["by_status"].values())
    return out
