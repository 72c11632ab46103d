"""Single-record pushes to ``POST /v1/events``, one after another: does latency stay flat?

Starts ``functrail serve`` from a checkout (this one, or ``--code DIR``: an older tree for the
before figures) on a fresh data folder, then sends N pushes of one CloudTrail record each, all
of today's day (the case that slowed: every push read the whole day's ids), from ``--clients``
concurrent keep-alive connections, each push with the next of ``--keys`` ingest keys (the API
limits each key to 50 requests/s). Prints p50 / p99 of the first and of the last 10% of the
pushes (by send order), the rate, the writer's lag, the lake's file count at the end, and
whether every record reached the lake.

    python bench/push.py --pushes 100000 --clients 4
    python bench/push.py --pushes 2000 --clients 1 --code /tmp/main   # before the push log
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from tests.ports import free_port  # noqa: E402


def record(n: int, now: datetime) -> bytes:
    return orjson.dumps(
        {
            "Records": [
                {
                    "eventVersion": "1.09",
                    "eventID": f"bench-{n:08d}-0000-4000-8000-000000000000",
                    "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "eventSource": "lambda.amazonaws.com",
                    "eventName": "Invoke",
                    "awsRegion": "eu-central-1",
                    "recipientAccountId": "210987654321",
                    "sourceIPAddress": "192.0.2.10",
                    "userAgent": "aws-sdk-go/1.44",
                    "userIdentity": {
                        "type": "IAMUser",
                        "arn": "arn:aws:iam::210987654321:user/app",
                        "accountId": "210987654321",
                    },
                    "requestParameters": {"functionName": f"fn-{n % 50}"},
                }
            ]
        }
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def push_all(base: str, keys: list[str], n: int, clients: int) -> list[float]:
    """Latency (ms) of each push, by send order."""
    now = datetime.now(UTC)
    latencies = [0.0] * n
    counter = iter(range(n))
    auth = [{"Authorization": f"Bearer {key}"} for key in keys]

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            for i in counter:
                body = record(i, now)
                started = time.perf_counter()
                headers = auth[i % len(auth)]
                response = await client.post("/v1/events", content=body, headers=headers)
                latencies[i] = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"push {i}: {response.status_code} {response.text}")

    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--keys", type=int, default=8, help="ingest keys to rotate through")
    parser.add_argument("--code", type=Path, default=HERE, help="the checkout to serve")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-push-")) / "home"
    env = {**os.environ, "FUNCTRAIL_HOME": str(home), "PYTHONPATH": str(args.code)}
    for name in ("FUNCTRAIL_DATABASE_URL", "FUNCTRAIL_LAKE", "FUNCTRAIL_MODELS"):
        env.pop(name, None)
    cli = [sys.executable, "-c", "from service.cli import main; main()"]
    make_keys = (
        "from pipelines.settings import Settings\n"
        "from service.db import open_database\n"
        "from service.keys.store import create_key, server_secret\n"
        "s = Settings(); db = open_database(s)\n"
        "with db.session() as session:\n"
        f"    for i in range({args.keys}):\n"
        "        print(create_key(session, name=f'bench-{i}', role='ingest',"
        " secret=server_secret(s.home)).key)\n"
    )
    keys = subprocess.run(
        [sys.executable, "-c", make_keys],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=args.code,
    ).stdout.split()
    port = free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        cwd=args.code,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.25)
        started = time.perf_counter()
        cpu_before = _cpu_seconds(server.pid)
        latencies = asyncio.run(push_all(base, keys, args.pushes, args.clients))
        wall = time.perf_counter() - started
        cpu = _cpu_seconds(server.pid) - cpu_before
        metrics = httpx.get(f"{base}/metrics").text
        drained_at = time.perf_counter()
        stored = _lake_ids(home, args.code, env)
        while stored < args.pushes and time.perf_counter() - drained_at < 60:
            time.sleep(1)
            stored = _lake_ids(home, args.code, env)
        drain_wait = time.perf_counter() - drained_at
    finally:
        server.terminate()
        server.wait(60)
    tenth = max(1, args.pushes // 10)
    first, last = latencies[:tenth], latencies[-tenth:]
    files = len(list((home / "lake").rglob("*.parquet")))
    lag = [line for line in metrics.splitlines() if line.startswith("functrail_push_lag_seconds")]
    print(f"code: {args.code}  pushes: {args.pushes}  clients: {args.clients}")
    print(f"first 10%: p50 {pct(first, 0.5):.2f} ms  p99 {pct(first, 0.99):.2f} ms")
    print(f"last 10%:  p50 {pct(last, 0.5):.2f} ms  p99 {pct(last, 0.99):.2f} ms")
    print(f"all: mean {statistics.fmean(latencies):.2f} ms  max {max(latencies):.1f} ms")
    print(f"rate {args.pushes / wall:.0f} pushes/s over {wall:.1f} s; server CPU {cpu:.1f} s")
    print(f"lake: {stored} of {args.pushes} records, {files} Parquet files")
    print(f"stored {drain_wait:.1f} s after the last push; {lag[0] if lag else 'no lag metric'}")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _lake_ids(home: Path, code: Path, env: dict[str, str]) -> int:
    """Records in the lake, read by the served code's own lake (old trees have no origin)."""
    probe = (
        "import sys; from pipelines.lake import EventLake; "
        f"print(len(EventLake({str(home / 'lake')!r}).read(columns=['id'])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=code, capture_output=True, text=True
    )
    return int(out.stdout.strip() or 0)


if __name__ == "__main__":
    main()
