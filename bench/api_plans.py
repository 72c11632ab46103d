"""Query plans and page times of the alert list's filters on a store seeded by api_load.py.

    python bench/api_plans.py --backend sqlite --store /tmp/ft-bench/sqlite-1m
    python bench/api_plans.py --backend postgresql --store /tmp/ft-bench/pg-1m

For every filter of ``api_load.QUERIES``: the time of page 1 and of page 7 (reached by
cursor), and the plan of the page-7 statement (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
PostgreSQL). What to look for: an index range in list order (no sort step), the severity
minimum inside the index condition, and the cursor's ``last_seen <=`` bound in it too.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).parent))
from api_load import QUERIES, open_store  # a sibling script, not a package

from pipelines.settings import Settings
from service.alerts.listing import LIST_COLUMNS
from service.alerts.queries import ALERT_ORDER, AlertFilter
from service.db import open_database
from service.query import _after, decode_cursor, paginate

PAGE = 7


def page_statement(flt: AlertFilter, cursor: str) -> Select[Any]:
    """The statement ``paginate`` runs for the page after ``cursor``."""
    base: Select[Any] = select(*LIST_COLUMNS)
    stmt = flt.apply(base).where(_after(ALERT_ORDER, decode_cursor(cursor, ALERT_ORDER)))
    return stmt.order_by(*(o.column.desc() for o in ALERT_ORDER)).limit(51)


def plan(session: Session, stmt: Select[Any]) -> list[str]:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        sql = stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        return [row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}")]
    compiled = stmt.compile(connection.engine)
    params = tuple(compiled.params[name] for name in compiled.positiontup or [])
    rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
    return [row[3] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--store", required=True, help="the --store of a seeded api_load run")
    parser.add_argument("--alerts", type=int, default=1_000_000, help="as seeded (PG name)")
    args = parser.parse_args()
    home, url, _ = open_store(args)
    db = open_database(Settings(home=home, database_url=url))
    for query in QUERIES:
        since = query.get("since")
        fields: dict[str, Any] = dict(query) | (
            {"since": datetime.fromisoformat(since)} if since else {}
        )
        flt = AlertFilter(**fields)
        with db.sessions() as session:
            began = time.perf_counter()
            page = paginate(session, flt.apply(select(*LIST_COLUMNS)), ALERT_ORDER, limit=50)
            first = time.perf_counter() - began
            cursor = page.next_cursor
            for _ in range(PAGE - 2):
                assert cursor is not None
                cursor = paginate(
                    session, flt.apply(select(*LIST_COLUMNS)), ALERT_ORDER, limit=50, cursor=cursor
                ).next_cursor
            assert cursor is not None
            began = time.perf_counter()
            paginate(
                session, flt.apply(select(*LIST_COLUMNS)), ALERT_ORDER, limit=50, cursor=cursor
            )
            later = time.perf_counter() - began
            lines = plan(session, page_statement(flt, cursor))
        name = query or "(no filter)"
        print(f"{name}: page 1 {first * 1000:.1f} ms, page {PAGE} {later * 1000:.1f} ms")
        for line in lines:
            print(f"    {line}")
    db.dispose()


if __name__ == "__main__":
    main()
