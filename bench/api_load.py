"""Load test of ``GET /v1/alerts``: a store of N alerts, C concurrent clients, p50/p95/p99.

    python bench/api_load.py --alerts 1000000 --clients 50 --requests 40 --backend sqlite
    python bench/api_load.py --alerts 1000000 --backend postgresql

Seeds the store with a bulk Core insert (``save_alerts`` is for detector batches, not for
filling a benchmark), starts the API under uvicorn in a subprocess, and has each client (own
key, so the per-key rate limit does not shape the result) walk filtered lists and follow
cursors. The simplest alternative is measured in the same run: a deep page by OFFSET against
the same page by keyset cursor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

from detectors.alert import SEVERITIES, SEVERITY_RANK
from pipelines.settings import Settings
from service.alerts.models import AlertRow
from service.alerts.queries import ALERT_ORDER
from service.alerts.store import dedup_hash
from service.db import Database, open_database
from service.keys.store import create_key, server_secret
from service.query import encode_cursor, paginate

PG_URL = os.environ.get(
    "FUNCTRAIL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RULES = [f"rule_{i:02d}" for i in range(30)]
QUERIES = [
    {},
    {"severity": "high"},
    {"status": "open", "severity": "medium"},
    {"rule_id": "rule_07"},
    {"detector": "anomaly", "severity": "high"},
    {"since": "2026-03-20T00:00:00Z"},
]


def seed(db: Database, n: int, batch: int = 20_000) -> float:
    rng = random.Random(7)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    began = time.perf_counter()
    with db.engine.begin() as conn:
        for offset in range(0, n, batch):
            rows = []
            for i in range(offset, min(n, offset + batch)):
                sev = SEVERITIES[min(4, int(rng.expovariate(1.2)))]
                seen = start + timedelta(seconds=rng.randrange(30 * 86400))
                key = f"rule|{RULES[i % 30]}|acct|principal-{i % 5000}|fn-{i}"
                rows.append(
                    {
                        "id": str(uuid.UUID(int=rng.getrandbits(128))),
                        "dedup_key": key,
                        "dedup_hash": dedup_hash(key),
                        "detector": "anomaly" if i % 10 == 0 else "rule",
                        "rule_id": RULES[i % 30],
                        "title": f"principal-{i % 5000} changed fn-{i}",
                        "severity": sev,
                        "severity_rank": SEVERITY_RANK[sev],
                        "score": rng.random(),
                        "provider": "aws",
                        "account": "210987654321",
                        "principal": f"principal-{i % 5000}",
                        "resource": f"fn-{i}",
                        "first_seen": seen,
                        "last_seen": seen,
                        "count": 1,
                        "status": rng.choice(["open", "open", "open", "acknowledged", "resolved"]),
                        "tags": ["T1098"],
                        "evidence": {"event_ids": [f"evt-{i}"], "sample": []},
                        "explanation": None,
                        "runbook": None,
                        "assignee": None,
                        "created_at": seen,
                        "updated_at": seen,
                    }
                )
            conn.execute(insert(AlertRow), rows)
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE alerts"))
        else:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - began


def deep_page(db: Database, depth: int) -> tuple[float, float]:
    """Seconds for the page at ``depth`` by OFFSET, and by keyset from the row before it."""
    order = (AlertRow.last_seen.desc(), AlertRow.id.desc())
    with db.sessions() as session:
        began = time.perf_counter()
        rows = list(session.scalars(select(AlertRow).order_by(*order).offset(depth).limit(50)))
        offset_s = time.perf_counter() - began
        anchor = session.execute(
            select(AlertRow.last_seen, AlertRow.id).order_by(*order).offset(depth - 1).limit(1)
        ).one()
        cursor = encode_cursor(list(anchor))
        began = time.perf_counter()
        page = paginate(session, select(AlertRow), ALERT_ORDER, limit=50, cursor=cursor)
        keyset_s = time.perf_counter() - began
    assert [r.id for r in rows] == [r.id for r in page.items]
    return offset_s, keyset_s


async def client(
    base: str, key: str, requests: int, latencies: list[float], codes: dict[int, int]
) -> None:
    rng = random.Random(key)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        cursor: str | None = None
        params: dict[str, str | int] = {}
        for _ in range(requests):
            if cursor is None or rng.random() < 0.5:
                params = dict(rng.choice(QUERIES)) | {"limit": 50}
                cursor = None
            query = params | ({"cursor": cursor} if cursor else {})
            began = time.perf_counter()
            response = await http.get("/v1/alerts", params=query)
            latencies.append(time.perf_counter() - began)
            codes[response.status_code] = codes.get(response.status_code, 0) + 1
            cursor = response.json().get("next_cursor") if response.status_code == 200 else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="per client")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="ft-bench-"))
    scratch = None
    if args.backend == "sqlite":
        url = f"sqlite:///{home / 'bench.db'}"
    else:
        scratch = f"ft_bench_{uuid.uuid4().hex[:8]}"
        _admin(f'CREATE DATABASE "{scratch}"')
        url = str(make_url(PG_URL).set(database=scratch).render_as_string(hide_password=False))
    settings = Settings(home=home, database_url=url)
    db = open_database(settings)
    seed_s = seed(db, args.alerts)
    print(
        f"seeded {args.alerts} alerts in {seed_s:.1f}s "
        f"({args.alerts / seed_s:,.0f} rows/s, bulk insert)"
    )
    depth = min(args.alerts - 50, 100_000)
    offset_s, keyset_s = deep_page(db, depth)
    print(
        f"page at depth {depth}: OFFSET {offset_s * 1000:.1f} ms, "
        f"keyset cursor {keyset_s * 1000:.1f} ms"
    )

    with db.session() as session:
        keys = [
            create_key(session, name=f"bench-{i}", role="viewer", secret=server_secret(home)).key
            for i in range(args.clients)
        ]
    port = 18000 + os.getpid() % 1000
    env = os.environ | {"FUNCTRAIL_HOME": str(home), "FUNCTRAIL_DATABASE_URL": url}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "service.api.app:create_app",
         "--port", str(port), "--log-level", "warning"],
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        latencies: list[float] = []
        codes: dict[int, int] = {}
        began = time.perf_counter()

        async def run() -> None:
            await asyncio.gather(*(client(base, k, args.requests, latencies, codes) for k in keys))

        asyncio.run(run())
        wall = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(timeout=30)
    q = statistics.quantiles(latencies, n=100)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.backend}: {len(latencies)} requests, {args.clients} clients, "
        f"{len(latencies) / wall:,.0f} req/s; "
        f"p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms; "
        f"status {codes}; bench peak RSS {peak_mb:.0f} MiB"
    )
    db.dispose()
    if scratch:
        _admin(f'DROP DATABASE "{scratch}"')


def _admin(statement: str) -> None:
    import psycopg

    url = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


if __name__ == "__main__":
    main()
