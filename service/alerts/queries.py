"""Reading alerts: the filtered, newest-first list, one alert, and the summary counts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from detectors.alert import SEVERITY_RANK, Disposition
from service.alerts.models import AlertRow
from service.alerts.store import StoredAlert, to_stored
from service.query import (
    Order,
    Page,
    paginate,
)

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
    include_shadow: bool = False
    """shadow alerts (rules or the model in shadow mode) too; by default they are left out"""

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        """``stmt`` narrowed to the alerts this filter admits (the values bound in it)."""
        return where_filters(stmt, {name: bindparam(name, v) for name, v in self.params().items()})

    def params(self) -> dict[str, Any]:
        """The filter's values by the name of the bound parameter they fill (only those set)."""
        values: dict[str, Any] = {
            name: getattr(self, name) for name in _EQUAL if getattr(self, name) is not None
        }
        if not self.include_shadow:
            values["shadow"] = False
        if self.severity is not None:
            values["severity_rank"] = SEVERITY_RANK[self.severity]
        if self.since is not None:
            values["since"] = self.since
        if self.until is not None:
            values["until"] = self.until
        if self.q:
            escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            values["q"] = f"%{escaped}%"
        return values


_EQUAL = ("status", "detector", "rule_id", "provider", "account", "principal", "resource")
"""the filters that are ``column = value``"""


def _equals(column: Any) -> Callable[[BindParameter[Any]], ColumnElement[bool]]:
    return lambda value: column == value


_CLAUSES: dict[str, Callable[[BindParameter[Any]], ColumnElement[bool]]] = {
    **{name: _equals(getattr(AlertRow, name)) for name in _EQUAL},
    "shadow": lambda flag: AlertRow.shadow == flag,
    "severity_rank": lambda rank: AlertRow.severity_rank >= rank,
    "since": lambda moment: AlertRow.last_seen >= moment,
    "until": lambda moment: AlertRow.last_seen < moment,
    "q": lambda pattern: or_(
        *(
            c.ilike(pattern, escape="\\")
            for c in (AlertRow.title, AlertRow.principal, AlertRow.resource, AlertRow.rule_id)
        )
    ),
}
"""each filter's clause over its bound parameter, by the name ``AlertFilter.params`` gives"""


def where_filters(stmt: Select[Any], binds: Mapping[str, BindParameter[Any]]) -> Select[Any]:
    """``stmt`` narrowed by each filter's clause over its bound parameter (by name)."""
    for name, bind in binds.items():
        stmt = stmt.where(_CLAUSES[name](bind))
    return stmt


def list_alerts(
    session: Session, flt: AlertFilter, *, limit: int = 50, cursor: str | None = None
) -> Page[StoredAlert]:
    """One page of alerts matching ``flt``, newest first (BadCursor on a foreign cursor)."""
    page = paginate(session, flt.apply(select(AlertRow)), ALERT_ORDER, limit=limit, cursor=cursor)
    return Page([to_stored(row) for row in page.items], page.next_cursor)


def get_alert(session: Session, alert_id: str) -> StoredAlert:
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise AlertNotFound(alert_id)
    return to_stored(row)


def summarize(session: Session, flt: AlertFilter) -> dict[str, Any]:
    """Counts by severity, status, detector, day (UTC date of ``last_seen``) and the verdicts
    given (``by_disposition``: every verdict, zeros included; alerts without one left out)."""
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
    verdicts: Any = select(AlertRow.disposition, func.count())
    given = flt.apply(verdicts.where(AlertRow.disposition.is_not(None))).group_by(
        AlertRow.disposition
    )
    out["by_disposition"] = dict.fromkeys(get_args(Disposition), 0) | {
        str(key): int(n) for key, n in session.execute(given)
    }
    return out
