"""The API's alert list, the hot route: a page as JSON bytes, with as little per-request work
as the store allows.

- SQL compiled once per filter shape and dialect and handed to the driver itself
  (``ListSql``): executing through SQLAlchemy cost ~0.1 ms of a ~0.55 ms page.
- Rows read as the driver returns them (no ORM objects, result rows or per-value type
  processing); times become their JSON text by ``stored_time_json``; the JSON columns
  (``save_alerts`` writes them in the contract's shape) are embedded as stored.
- Each alert's JSON is kept per (id, updated_at) (``RenderedAlerts``): a page first reads
  only those keys, and reads and renders every column only when one of its alerts is not
  kept: a quarter of the work of a page built from every column (SQLite, in process: 0.14
  vs 0.58 ms).

``test_list_json_is_the_stored_alert_json`` pins the bytes to ``StoredAlert``'s JSON.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Select, Text, bindparam, cast, select, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import NullType

from service.alerts.models import AlertRow
from service.alerts.queries import ALERT_ORDER, AlertFilter, where_filters
from service.db import stored_time, stored_time_json
from service.query import decode_cursor, next_page, page_params, page_statement

if TYPE_CHECKING:
    from service.async_reads import AsyncReads

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
    AlertRow.disposition,
    AlertRow.updated_at,
    AlertRow.shadow,
)
"""The fields of ``StoredAlert``, in its order; the JSON columns as their stored text."""
KEY_COLUMNS: tuple[Any, ...] = (AlertRow.id, AlertRow.last_seen, AlertRow.updated_at)
"""What tells whether a kept rendering is current, and where the page ends."""


def _names(columns: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(select(*columns).selected_columns.keys())


def _raw(columns: tuple[Any, ...], names: tuple[str, ...]) -> tuple[Any, ...]:
    """``columns`` read as the driver returns them: no per-value result processing."""
    return tuple(type_coerce(c, NullType()).label(n) for c, n in zip(columns, names, strict=True))


_LIST_KEYS, _KEY_KEYS = _names(LIST_COLUMNS), _names(KEY_COLUMNS)
_TIMES = ("first_seen", "last_seen", "updated_at")
_EMBEDDED = ("tags", "evidence", "explanation")
_ID, _UPDATED = _LIST_KEYS.index("id"), _LIST_KEYS.index("updated_at")
_KEY_ID, _KEY_UPDATED = _KEY_KEYS.index("id"), _KEY_KEYS.index("updated_at")
"""where a full row and a key row hold what ``RenderedAlerts`` keys on"""
_RAW = {False: _raw(LIST_COLUMNS, _LIST_KEYS), True: _raw(KEY_COLUMNS, _KEY_KEYS)}
"""by ``keys_only``"""


_ORDER_FILTERS = frozenset({"severity_rank", "since", "until", "shadow"})
"""filters that every list-order index (migrations 0003, 0011) bounds or carries"""
_INDEX_LEADS = frozenset({"status", "rule_id", "detector"})
"""the equality filters that lead a list-order index of their own"""


def walks_an_index(flt: AlertFilter) -> bool:
    """True when the page is read by walking one list-order index (migration 0003) from its
    start: at most one of ``status``/``rule_id``/``detector``, with any severity and time
    bounds. Other filters (``q``, ``principal``, ...) may scan the table."""
    leads = flt.params().keys() - _ORDER_FILTERS
    return len(leads) <= 1 and leads <= _INDEX_LEADS


class RenderedAlerts:
    """Each listed alert's JSON, kept per (id, updated_at) in one API process.

    Every change to a stored alert moves its ``updated_at`` (``save_alerts`` on a fold,
    ``triage``), so a kept rendering is served only while the row it came from is current:
    the page's key read sees the new time and renders the row again. Bounded: past
    ``max_alerts`` the oldest tenth goes.
    """

    def __init__(self, max_alerts: int = 20_000) -> None:
        self.max_alerts = max_alerts
        self._kept: dict[tuple[Any, Any], bytes] = {}
        self._lock = threading.Lock()  # the SQLite scan path renders in worker threads
        self.kept_pages = self.built_pages = 0

    def page(self, keys: Sequence[Sequence[Any]]) -> list[bytes] | None:
        """The kept JSON of every (id, last_seen, updated_at) row, or None if one is missing."""
        kept = self._kept
        parts = [kept.get((row[_KEY_ID], row[_KEY_UPDATED])) for row in keys]
        if None in parts:
            return None
        self.kept_pages += 1
        return parts  # type: ignore[return-value]  # None was ruled out above

    def render(self, rows: Sequence[Sequence[Any]]) -> list[bytes]:
        """The JSON of full list rows, kept for the next pages that show them."""
        parts = [_render(row) for row in rows]
        with self._lock:
            if len(self._kept) + len(parts) > self.max_alerts:
                for key in list(islice(self._kept, max(len(parts), self.max_alerts // 10))):
                    del self._kept[key]
            for row, part in zip(rows, parts, strict=True):
                self._kept[(row[_ID], row[_UPDATED])] = part
        self.built_pages += 1
        return parts

    def __len__(self) -> int:
        return len(self._kept)


def list_alert_json(
    connection: Connection,
    flt: AlertFilter,
    *,
    limit: int = 50,
    cursor: str | None = None,
    rendered: RenderedAlerts | None = None,
) -> bytes:
    """The page of ``list_alerts`` as ``{"items", "next_cursor"}`` JSON (BadCursor on a
    foreign cursor); with ``rendered``, alerts kept there are not read or rendered again."""

    def fetch(keys_only: bool) -> list[Any]:
        sql, values = list_sql(connection.dialect, flt, limit, cursor, keys_only=keys_only)
        driver = connection.connection.dbapi_connection
        assert driver is not None  # a checked-out connection always holds one
        rows = driver.cursor()
        try:
            rows.execute(sql.text, values)
            return list(rows.fetchall())
        finally:
            rows.close()

    if rendered is not None:
        kept = _kept_page(fetch(True), limit, rendered)
        if kept is not None:
            return kept
    return _built_page(fetch(False), limit, rendered)


async def list_alert_json_async(
    reads: AsyncReads,
    flt: AlertFilter,
    *,
    limit: int = 50,
    cursor: str | None = None,
    rendered: RenderedAlerts | None = None,
) -> bytes:
    """``list_alert_json`` on PostgreSQL from the event loop (``AsyncReads``): same SQL,
    same rows, same bytes."""

    async def fetch(keys_only: bool) -> list[Any]:
        sql, values = list_sql(reads.dialect, flt, limit, cursor, keys_only=keys_only)
        return await reads.fetchall(sql.text, values)

    if rendered is not None:
        kept = _kept_page(await fetch(True), limit, rendered)
        if kept is not None:
            return kept
    return _built_page(await fetch(False), limit, rendered)


@dataclass(frozen=True)
class ListSql:
    """The list's SQL for one filter shape on one dialect, and how its values are bound."""

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
    dialect: Dialect, flt: AlertFilter, limit: int, cursor: str | None, *, keys_only: bool = False
) -> tuple[ListSql, Sequence[Any] | dict[str, Any]]:
    """The SQL of one list page (every column, or ``KEY_COLUMNS``) and its driver values."""
    after = decode_cursor(cursor, ALERT_ORDER) if cursor else None
    values = flt.params()
    sql = _list_sql(dialect, tuple(values), after is not None, keys_only)
    values.update(page_params(ALERT_ORDER, limit, after))
    return sql, sql.bind(values)


def _kept_page(keys: Sequence[Any], limit: int, rendered: RenderedAlerts) -> bytes | None:
    page = next_page(keys, ALERT_ORDER, limit, columns=_KEY_KEYS, read={"last_seen": stored_time})
    parts = rendered.page(page.items)
    return None if parts is None else _page_bytes(parts, page.next_cursor)


def _built_page(rows: Sequence[Any], limit: int, rendered: RenderedAlerts | None) -> bytes:
    page = next_page(rows, ALERT_ORDER, limit, columns=_LIST_KEYS, read={"last_seen": stored_time})
    parts = (
        rendered.render(page.items) if rendered is not None else [_render(r) for r in page.items]
    )
    return _page_bytes(parts, page.next_cursor)


def _page_bytes(parts: list[bytes], next_cursor: str | None) -> bytes:
    """``orjson.dumps({"items": [...], "next_cursor": ...})`` from each item's own bytes."""
    return b'{"items":[%b],"next_cursor":%b}' % (b",".join(parts), orjson.dumps(next_cursor))


@functools.lru_cache(maxsize=256)
def _list_sql(dialect: Dialect, filters: tuple[str, ...], after: bool, keys_only: bool) -> ListSql:
    """Compiled once per engine dialect, filter set (at most 2^12), first/later page and
    column set."""
    compiled = _list_statement(filters, after, keys_only).compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    processors = {
        name: process
        for name, bind in compiled.binds.items()
        if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }
    return ListSql(str(compiled), compiled, processors)


@functools.cache
def _list_statement(filters: tuple[str, ...], after: bool, keys_only: bool) -> Select[Any]:
    stmt = where_filters(select(*_RAW[keys_only]), {name: bindparam(name) for name in filters})
    return page_statement(stmt, ALERT_ORDER, after=after)


def _render(row: Sequence[Any]) -> bytes:
    out = dict(zip(_LIST_KEYS, row, strict=True))
    for name in _TIMES:
        out[name] = stored_time_json(out[name])
    for name in _EMBEDDED:
        out[name] = _embedded(out[name])
    out["shadow"] = bool(out["shadow"])  # SQLite's driver gives 0 / 1
    return orjson.dumps(out, option=orjson.OPT_UTC_Z)


def _embedded(stored: str | None) -> Any:
    if stored is None:
        return None
    if "NaN" in stored or "Infinity" in stored:
        # Python's json wrote a float JSON has no word for; parsed, orjson writes null
        # (as pydantic does). The words inside a string only cost this slower path.
        return json.loads(stored)
    return orjson.Fragment(stored)
