"""Load test of ``GET /v1/alerts``: a store of N alerts, C concurrent clients, p50/p95/p99.

    python bench/api_load.py --alerts 1000000 --backend sqlite --store /tmp/ft-bench/sqlite-1m
    python bench/api_load.py --alerts 1000000 --backend postgresql --store /tmp/ft-bench/pg-1m \
        --workers 2 --think-ms 1000

Seeds the store with a bulk Core insert (``save_alerts`` is for detector batches, not for
filling a benchmark; ``--store`` keeps it for the next run), starts ``functrail serve`` in a
subprocess and drives it with ``wrk`` (C, so the client does not eat the server's CPU on a
small box; ``--load httpx`` is the Python client for comparison). Each connection has its own
key (so the per-key rate limit does not shape the result) and requests vary over QUERIES, each
at a real cursor depth (cursors collected from the server first); ``--scattered N`` asks for N
unfiltered pages at random depths instead, so the API's kept alert JSON rarely applies (its
cold path). ``--think-ms`` makes each connection wait between requests (an analyst console);
without it the loop is closed and the figure is throughput-bound. The figures count from the
end of ``--warmup`` seconds of the same load (by then every worker is up and has rendered the
pages once; ``--warmup 0`` counts a fresh server's first seconds). The simplest alternative is
measured in the same run: a deep page by OFFSET against the same page by keyset cursor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, LiteralString
from urllib.parse import urlencode

import httpx
from sqlalchemy import delete, func, insert, select, text
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
QUERIES: list[dict[str, str]] = [
    {},
    {"severity": "high"},
    {"status": "open", "severity": "medium"},
    {"rule_id": "rule_07"},
    {"detector": "anomaly", "severity": "high"},
    {"since": "2026-03-20T00:00:00Z"},
]
PAGES_PER_QUERY = 8
"""cursor depths the load visits per query: page 1 .. 8 (a console rarely goes deeper)"""

WRK_SCRIPT = r"""
local paths, keys = {}, {}
for line in io.lines(os.getenv("FT_PATHS")) do paths[#paths + 1] = line end
for line in io.lines(os.getenv("FT_KEYS")) do keys[#keys + 1] = line end
local think = tonumber(os.getenv("FT_THINK_MS") or "0")
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  n, ok, limited, other = 0, 0, 0, 0
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end
function request()
  n = n + 1
  local key = keys[(n % #keys) + 1]
  return wrk.format("GET", paths[math.random(#paths)], {Authorization = "Bearer " .. key})
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 elseif status == 429 then limited = limited + 1
  else other = other + 1 end
end
if think > 0 then
  function delay() return math.random(math.floor(think / 2), math.floor(think * 1.5)) end
end
function done(summary, latency, requests)
  local s = {ok = 0, limited = 0, other = 0}
  for _, t in ipairs(threads) do
    s.ok = s.ok + t:get("ok"); s.limited = s.limited + t:get("limited")
    s.other = s.other + t:get("other")
  end
  io.write(string.format(
    'FT_RESULT {"requests": %d, "seconds": %.3f, "p50": %d, "p95": %d, "p99": %d, ' ..
    '"max": %d, "ok": %d, "limited": %d, "other": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, s.ok, s.limited, s.other,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def seed(db: Database, n: int, batch: int = 20_000) -> float:
    """``n`` alerts over 30 days: skewed severities, 30 rules, 10% anomaly, 60% open."""
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
        conn.execute(
            text("ANALYZE alerts" if db.engine.dialect.name == "postgresql" else "ANALYZE")
        )
    return time.perf_counter() - began


def ensure_seeded(db: Database, n: int) -> None:
    """Seed ``n`` alerts unless the store holds exactly that many (a kept ``--store``)."""
    with db.engine.connect() as conn:
        have = conn.scalar(select(func.count()).select_from(AlertRow))
    if have == n:
        print(f"store holds {n:,} alerts already (seeded by an earlier run)")
        return
    if have:
        with db.engine.begin() as conn:
            conn.execute(delete(AlertRow))
    seconds = seed(db, n)
    print(f"seeded {n:,} alerts in {seconds:.1f}s ({n / seconds:,.0f} rows/s, bulk insert)")


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


def request_paths(base: str, key: str) -> list[str]:
    """Every QUERY at page 1..PAGES_PER_QUERY, with the cursors the server hands out."""
    paths: list[str] = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http:
        for params in QUERIES:
            cursor: str | None = None
            for _ in range(PAGES_PER_QUERY):
                query = params | {"limit": "50"} | ({"cursor": cursor} if cursor else {})
                path = f"/v1/alerts?{urlencode(query)}"
                response = http.get(path)
                response.raise_for_status()
                paths.append(path)
                cursor = response.json()["next_cursor"]
                if cursor is None:
                    break
    return paths


def scattered_paths(db: Database, n: int) -> list[str]:
    """``n`` unfiltered pages, each starting at a random instant of the store's span: every
    page a different stretch of the store, so the API's kept alert JSON rarely applies (its
    cold path). A cursor needs no real row: (instant, "") means "older than the instant"."""
    rng = random.Random(11)
    with db.sessions() as session:
        first, last = session.execute(
            select(func.min(AlertRow.last_seen), func.max(AlertRow.last_seen))
        ).one()
    span = (last - first).total_seconds()
    instants = [first + timedelta(seconds=rng.uniform(0, span)) for _ in range(n)]
    queries = [{"limit": "50", "cursor": encode_cursor([t, ""])} for t in instants]
    return [f"/v1/alerts?{urlencode(query)}" for query in queries]


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children (uvicorn workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pids.extend(int(c) for c in children)
    return total


def postgres_cpu_seconds() -> float:
    """User + system CPU of every ``postgres`` process on this host (the database's share of
    the box; other clients of the same server count too, so the bench says so)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if name == "postgres":
            parts = fields.split()
            total += (int(parts[11]) + int(parts[12])) / ticks
    return total


def run_wrk(
    base: str, paths: list[str], keys: list[str], args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    (work / "paths.txt").write_text("\n".join(paths) + "\n")
    (work / "keys.txt").write_text("\n".join(keys) + "\n")
    (work / "load.lua").write_text(WRK_SCRIPT)
    env = os.environ | {
        "FT_PATHS": str(work / "paths.txt"),
        "FT_KEYS": str(work / "keys.txt"),
        "FT_THINK_MS": str(args.think_ms),
    }
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk), or use --load httpx")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [wrk, "-t", str(args.threads), "-c", str(args.clients), "-d", f"{args.duration}s",
         "--timeout", "30s", "-s", str(work / "load.lua"), base],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [x for x in out.stdout.splitlines() if x.startswith("FT_RESULT ")]
    if not lines:
        raise SystemExit(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")
    line = lines[0]
    result: dict[str, Any] = json.loads(line.removeprefix("FT_RESULT "))
    result["client_cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for name in ("p50", "p95", "p99", "max"):
        result[name] = result[name] / 1000  # wrk reports microseconds
    return result


async def httpx_client(
    base: str, key: str, paths: list[str], until: float, think: float, out: dict[str, Any]
) -> None:
    rng = random.Random(key)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as http:
        while time.perf_counter() < until:
            began = time.perf_counter()
            response = await http.get(rng.choice(paths))
            out["latencies"].append((time.perf_counter() - began) * 1000)
            out["codes"][response.status_code] = out["codes"].get(response.status_code, 0) + 1
            if think:
                await asyncio.sleep(rng.uniform(think / 2, think * 1.5))


def run_httpx(
    base: str, paths: list[str], keys: list[str], args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "codes": {}}
    before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    until = began + args.duration

    async def run() -> None:
        think = args.think_ms / 1000
        await asyncio.gather(*(httpx_client(base, k, paths, until, think, out) for k in keys))

    asyncio.run(run())
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    q = statistics.quantiles(out["latencies"], n=100)
    codes = out["codes"]
    return {
        "requests": len(out["latencies"]),
        "seconds": seconds,
        "p50": q[49],
        "p95": q[94],
        "p99": q[98],
        "max": max(out["latencies"]),
        "ok": codes.get(200, 0),
        "limited": codes.get(429, 0),
        "other": sum(n for c, n in codes.items() if c not in (200, 429)),
        "socket_errors": 0,
        "client_cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    }


def open_store(args: argparse.Namespace) -> tuple[Path, str, str | None]:
    """The home folder, database URL, and a scratch PostgreSQL database to drop (if any)."""
    home = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="ft-bench-"))
    home.mkdir(parents=True, exist_ok=True)
    if args.backend == "sqlite":
        return home, f"sqlite:///{home / 'bench.db'}", None
    name = f"ft_bench_{args.alerts}" if args.store else f"ft_bench_{uuid.uuid4().hex[:8]}"
    if not _admin_scalar("SELECT 1 FROM pg_database WHERE datname = %s", name):
        _admin(f'CREATE DATABASE "{name}"')
    url = str(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    return home, url, None if args.store else name


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections")
    parser.add_argument("--duration", type=int, default=20, help="seconds of load")
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="seconds of the same load first, not counted (every worker up, its caches warm)",
    )
    parser.add_argument("--think-ms", type=int, default=0, help="mean wait between requests")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--store", help="keep the seeded store in this folder for later runs")
    parser.add_argument("--workers", type=int, default=1, help="functrail serve --workers")
    parser.add_argument("--load", choices=["wrk", "httpx"], default="wrk")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--access-log", action="store_true", help="functrail serve --access-log")
    parser.add_argument(
        "--scattered",
        type=int,
        default=0,
        help="instead of QUERIES, this many unfiltered pages at random depths (the cold path)",
    )
    args = parser.parse_args()

    home, url, scratch = open_store(args)
    settings = Settings(home=home, database_url=url)
    db = open_database(settings)
    ensure_seeded(db, args.alerts)
    depth = min(args.alerts - 50, 100_000)
    offset_s, keyset_s = deep_page(db, depth)
    print(
        f"page at depth {depth}: OFFSET {offset_s * 1000:.1f} ms, "
        f"keyset cursor {keyset_s * 1000:.1f} ms"
    )
    run_id = uuid.uuid4().hex[:6]
    with db.session() as session:
        keys = [
            create_key(
                session, name=f"bench-{run_id}-{i}", role="viewer", secret=server_secret(home)
            ).key
            for i in range(args.clients)
        ]
    port = 18000 + os.getpid() % 1000
    env = os.environ | {"FUNCTRAIL_HOME": str(home), "FUNCTRAIL_DATABASE_URL": url}
    server = subprocess.Popen(
        [sys.executable, "-c", "from service.cli import main; main()", "serve",
         "--port", str(port)] + (["--workers", str(args.workers)] if args.workers > 1 else [])
        + (["--access-log"] if args.access_log else []),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        if args.scattered:
            paths = scattered_paths(db, args.scattered)
        else:
            paths = request_paths(base, keys[0])
        time.sleep(1)  # the rate limiter of the warm-up key refills
        load = run_wrk if args.load == "wrk" else run_httpx
        with tempfile.TemporaryDirectory() as work:
            if args.warmup:
                load(
                    base,
                    paths,
                    keys,
                    argparse.Namespace(**vars(args) | {"duration": args.warmup}),
                    Path(work),
                )
            cpu_before = tree_cpu_seconds(server.pid)
            pg_before = postgres_cpu_seconds()
            load_before = os.getloadavg()
            result = load(base, paths, keys, args, Path(work))
        server_cpu = tree_cpu_seconds(server.pid) - cpu_before
        pg_cpu = postgres_cpu_seconds() - pg_before
    finally:
        server.terminate()
        server.wait(timeout=60)
    seconds = result["seconds"]
    mode = f"think {args.think_ms} ms" if args.think_ms else "closed loop"
    print(
        f"{args.backend}, {args.alerts:,} alerts, {args.workers} worker(s), {args.load}, "
        f"{args.clients} clients, {mode}, {len(paths)} paths: "
        f"{result['requests']:,} requests in {seconds:.1f}s = {result['requests'] / seconds:,.0f} "
        f"req/s; p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, "
        f"p99 {result['p99']:.1f} ms, max {result['max']:.1f} ms; "
        f"200: {result['ok']}, 429: {result['limited']}, other: {result['other']}, "
        f"socket errors: {result['socket_errors']}"
    )
    requests = max(1, result["requests"])
    database = (
        f", all postgres processes {pg_cpu / seconds:.2f} cores"
        if args.backend == "postgresql"
        else ""
    )
    print(
        f"CPU: server {server_cpu / seconds:.2f} cores ({server_cpu / requests * 1000:.2f} ms per"
        f" request){database}, client {result['client_cpu'] / seconds:.2f}"
        f" cores; load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; "
        f"bench peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    db.dispose()
    if scratch:
        _admin(f'DROP DATABASE "{scratch}"')


def _admin_url() -> str:
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)


def _admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(statement)


def _admin_scalar(statement: LiteralString, value: str) -> object:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        row = conn.execute(statement, (value,)).fetchone()
    return row[0] if row else None


if __name__ == "__main__":
    main()
