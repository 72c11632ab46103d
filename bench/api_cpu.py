"""Python CPU per ``GET /v1/alerts`` request, in process: raw ASGI calls into the real app.

    python bench/api_cpu.py --backend sqlite --store /tmp/ft-bench/sqlite-1m
    python bench/api_cpu.py --backend postgresql --store /tmp/ft-bench/pg-1m --profile out.prof

The served figure (``api_load.py``) moves ±30% with what else runs on a shared 2-core host;
CPU time of this process (every thread: the list's worker thread and the audit writer
included) does not, so each change to the list path is judged here first. The app is the
one ``functrail serve`` builds (``create_app``: Guard, key cache, rate limit, audit writer),
called without uvicorn or sockets; requests cycle over ``api_load.QUERIES`` at pages 1..8
with real cursors, as the load test does. The rate limit is lifted (one key calls thousands
of times); everything else is what a served request runs. The simplest alternative is
measured in the same run: the store function alone (``list_alert_json`` on a connection, no
HTTP), the floor that the API's own layers add to.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import statistics
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from api_load import PAGES_PER_QUERY, QUERIES, ensure_seeded, open_store  # a sibling script

from pipelines.settings import Settings
from service.alerts.listing import RenderedAlerts, list_alert_json
from service.alerts.queries import AlertFilter
from service.alerts.schemas import AlertQuery, alert_filter
from service.api.app import create_app
from service.keys.store import create_key, server_secret


def asgi_get(app: Any, path: str, query: bytes, key: str) -> Any:
    """A coroutine for one GET through the whole ASGI stack; it returns (status, body)."""

    async def call() -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {key}".encode())],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return sent[0]["status"], body

    return call()


def collect_queries(app: Any, key: str) -> list[bytes]:
    """Every QUERY at pages 1..PAGES_PER_QUERY, with the cursors the app hands out."""
    out: list[bytes] = []

    async def walk() -> None:
        for params in QUERIES:
            cursor: str | None = None
            for _ in range(PAGES_PER_QUERY):
                query = params | {"limit": "50"} | ({"cursor": cursor} if cursor else {})
                raw = urlencode(query).encode()
                status, body = await asgi_get(app, "/v1/alerts", raw, key)
                if status != 200:
                    raise SystemExit(f"{raw!r}: {status} {body[:300]!r}")
                out.append(raw)
                cursor = orjson.loads(body)["next_cursor"]
                if cursor is None:
                    break

    asyncio.run(walk())
    return out


def api_cpu(app: Any, key: str, queries: list[bytes], n: int) -> tuple[float, float]:
    """CPU and wall seconds per request over ``n`` sequential requests."""

    async def run() -> None:
        for i in range(n):
            status, _ = await asgi_get(app, "/v1/alerts", queries[i % len(queries)], key)
            assert status == 200, status

    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(run())
    return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n


def store_cpu(app: Any, queries: list[bytes], n: int, rendered: RenderedAlerts | None) -> float:
    """CPU seconds per page for the store function alone: the floor under the API (with
    ``rendered``, kept alert JSON as the API uses it; without, every page read and rendered)."""
    db = app.state.api.db
    filters = []
    for raw in queries:
        params = dict(parse_qsl(raw.decode()))
        limit, cursor = int(params.pop("limit")), params.pop("cursor", None)
        flt: AlertFilter = asyncio.run(alert_filter(AlertQuery.model_validate(params)))
        filters.append((flt, limit, cursor))
    cpu = time.process_time()
    for i in range(n):
        flt, limit, cursor = filters[i % len(filters)]
        with db.reads() as connection:  # as the list route reads
            list_alert_json(connection, flt, limit=limit, cursor=cursor, rendered=rendered)
    return (time.process_time() - cpu) / n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--store", help="the kept store of api_load.py (seeded if empty)")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="the median round is reported")
    parser.add_argument("--profile", help="write a cProfile of one more round to this file")
    args = parser.parse_args()

    home, url, _ = open_store(args)
    app = create_app(Settings(home=home, database_url=url))
    api = app.state.api
    ensure_seeded(api.db, args.alerts)
    api.limiter.rate, api.limiter.burst = 1e9, 10**9
    with api.db.session() as session:
        key = create_key(
            session, name=f"cpu-{uuid.uuid4().hex[:6]}", role="viewer", secret=server_secret(home)
        ).key
    try:
        queries = collect_queries(app, key)
        api_cpu(app, key, queries, 200)  # warm: statement caches, pool, key cache
        rounds = [api_cpu(app, key, queries, args.requests) for _ in range(args.rounds)]
        kept = RenderedAlerts()
        floors = [store_cpu(app, queries, args.requests, kept) for _ in range(args.rounds)]
        built = [store_cpu(app, queries, args.requests, None) for _ in range(args.rounds)]
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            api_cpu(app, key, queries, args.requests)
            profiler.disable()
            profiler.dump_stats(args.profile)
    finally:
        api.audit.close()
        api.db.dispose()
    cpu = statistics.median(r[0] for r in rounds) * 1000
    wall = statistics.median(r[1] for r in rounds) * 1000
    floor = statistics.median(floors) * 1000
    cold = statistics.median(built) * 1000
    print(
        f"{args.backend}, {args.alerts:,} alerts, {len(queries)} paths, "
        f"{args.rounds} x {args.requests} requests: API {cpu:.2f} ms CPU "
        f"({wall:.2f} ms wall) per request; store function alone {floor:.2f} ms CPU "
        f"(every page read and rendered: {cold:.2f} ms); "
        f"rounds {', '.join(f'{r[0] * 1000:.2f}' for r in rounds)}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
