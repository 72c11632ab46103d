"""Reading alerts: the filtered, newest-first list, one alert, and the summary counts."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Select,
    Text,
    bindparam,
    cast,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import NullType

from detectors.alert import SEVERITY_RANK
from service.alerts.models import AlertRow
from service.alerts.store import StoredAlert, to_stored
from service.db import stored_time, stored_time_json
from service.query import (
    Order,
    Page,
    decode_cursor,
    next_page,
    page_params,
    page_statement,
    paginate,
)

if TYPE_CHECKING:
    import psycopg

    from service.async_reads import AsyncReads


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
        """``stmt`` narrowed to the alerts this filter admits (the values bound in it)."""
        return _where(stmt, {name: bindparam(name, v) for name, v in self.params().items()})

    def params(self) -> dict[str, Any]:
        """The filter's values by the name of the bound parameter they fill (only those set)."""
        values: dict[str, Any] = {
            name: getattr(self, name) for name in _EQUAL if getattr(self, name) is not None
        }
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


def _where(stmt: Select[Any], binds: Mapping[str, BindParameter[Any]]) -> Select[Any]:
    for name, bind in binds.items():
        stmt = stmt.where(_CLAUSES[name](bind))
    return stmt


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
_LIST_KEYS = tuple(select(*LIST_COLUMNS).selected_columns.keys())
_RAW_COLUMNS: tuple[Any, ...] = tuple(
    type_coerce(column, NullType()).label(name)
    for column, name in zip(LIST_COLUMNS, _LIST_KEYS, strict=True)
)
"""``LIST_COLUMNS`` read as the driver returns them: no per-value result processing."""
_TIMES = ("first_seen", "last_seen", "updated_at")
_EMBEDDED = ("tags", "evidence", "explanation")


_ORDER_FILTERS = frozenset({"severity_rank", "since", "until"})
"""filters that every list-order index of migration 0003 bounds or carries"""
_INDEX_LEADS = frozenset({"status", "rule_id", "detector"})
"""the equality filters that lead a list-order index of their own"""


def walks_an_index(flt: AlertFilter) -> bool:
    """True when the page is read by walking one list-order index (migration 0003) from its
    start: at most one of ``status``/``rule_id``/``detector``, with any severity and time
    bounds. Other filters (``q``, ``principal``, ...) may scan the table."""
    leads = flt.params().keys() - _ORDER_FILTERS
    return len(leads) <= 1 and leads <= _INDEX_LEADS


def list_alert_json(
    connection: Connection, flt: AlertFilter, *, limit: int = 50, cursor: str | None = None
) -> bytes:
    """The page of ``list_alerts`` as ``{"items", "next_cursor"}`` JSON, built from plain rows.

    The API's hot path: SQL compiled once per filter shape and given to the driver itself
    (``ListSql``), rows read as the driver returns them (no ORM objects, result rows or
    per-value type processing: times become their JSON text by ``stored_time_json``), no
    pydantic model per alert, and the JSON columns (``save_alerts`` writes them in the
    contract's shape) embedded as stored instead of parsed and written again;
    ``test_list_json_is_the_stored_alert_json`` pins the result to ``StoredAlert``'s JSON.
    """
    sql, values = list_sql(connection.dialect, flt, limit, cursor)
    driver = connection.connection.dbapi_connection
    assert driver is not None  # a checked-out connection always holds one
    cursor_ = driver.cursor()
    try:
        cursor_.execute(sql.text, values)
        rows = cursor_.fetchall()
    finally:
        cursor_.close()
    return page_json(rows, limit)


async def list_alert_json_async(
    reads: AsyncReads, flt: AlertFilter, *, limit: int = 50, cursor: str | None = None
) -> bytes:
    """``list_alert_json`` on PostgreSQL from the event loop (``AsyncReads``): same SQL,
    same rows, same bytes."""
    sql, values = list_sql(reads.dialect, flt, limit, cursor)

    async def read(connection: psycopg.AsyncConnection) -> list[tuple[Any, ...]]:
        async with connection.cursor() as rows:
            await rows.execute(sql.text, values)
            return await rows.fetchall()

    return page_json(await reads.run(read), limit)


@dataclass(frozen=True)
class ListSql:
    """The list's SQL for one filter shape on one dialect, and how its values are bound.

    Executing a compiled statement through SQLAlchemy (cache lookup, execution context,
    result rows) cost ~0.1 ms of a ~0.55 ms page; the driver takes the text and values as is.
    """

    text: str
    compiled: SQLCompiler
    processors: Mapping[str, Callable[[Any], Any]]
    """the bind processors of the parameters that have one (times: the stored form)"""

    def bind(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """Positional (SQLite's ``?``) or named (psycopg's ``%(name)s``) driver values."""
        params = dict(self.compiled.construct_params(dict(values)) or {})
        for name, process in self.processors.items():
            params[name] = process(params[name])
        order = self.compiled.positiontup
        return params if order is None else [params[name] for name in order]


def list_sql(
    dialect: Dialect, flt: AlertFilter, limit: int, cursor: str | None
) -> tuple[ListSql, Sequence[Any] | dict[str, Any]]:
    """The SQL of one list page and its driver values (BadCursor on a foreign cursor)."""
    after = decode_cursor(cursor, len(ALERT_ORDER)) if cursor else None
    values = flt.params()
    sql = _list_sql(dialect, tuple(values), after is not None)
    values.update(page_params(ALERT_ORDER, limit, after))
    return sql, sql.bind(values)


def page_json(rows: Sequence[Sequence[Any]], limit: int) -> bytes:
    """The list's JSON from the rows of ``list_sql`` (one past the page when there is more)."""
    page = next_page(rows, ALERT_ORDER, limit, columns=_LIST_KEYS, read={"last_seen": stored_time})
    items = [_alert_json(row) for row in page.items]
    return orjson.dumps({"items": items, "next_cursor": page.next_cursor}, option=orjson.OPT_UTC_Z)


@functools.lru_cache(maxsize=256)
def _list_sql(dialect: Dialect, filters: tuple[str, ...], after: bool) -> ListSql:
    """Compiled once per engine dialect, filter set (at most 2^12) and first/later page."""
    compiled = _list_statement(filters, after).compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    processors = {
        name: process
        for name, bind in compiled.binds.items()
        if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }
    return ListSql(str(compiled), compiled, processors)


@functools.cache
def _list_statement(filters: tuple[str, ...], after: bool) -> Select[Any]:
    """The list's statement for this set of filters, values left to bind (at most 2^12)."""
    stmt = _where(select(*_RAW_COLUMNS), {name: bindparam(name) for name in filters})
    return page_statement(stmt, ALERT_ORDER, after=after)


def _alert_json(row: Sequence[Any]) -> dict[str, Any]:
    out = dict(zip(_LIST_KEYS, row, strict=True))
    for name in _TIMES:
        out[name] = stored_time_json(out[name])
    for name in _EMBEDDED:
        out[name] = _embedded(out[name])
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
