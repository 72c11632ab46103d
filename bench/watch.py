"""``functrail watch`` under a steady stream of files: latency from a file landing to its
alert in the store and at a webhook receiver, and the highest rate one core keeps up with.

For each rate in ``--rates`` (events/s), on a fresh data folder: starts ``functrail watch
--interval I FOLDER`` pinned to CPU 0 (this script, the files and the receiver run on CPU 1),
with a webhook subscription to a receiver on 127.0.0.1; drops CloudTrail files of
``--file-events`` records into the folder at the rate for ``--seconds`` (each written under a
dot-name and renamed, as a shipper should); every ``--marker-every`` seconds a file also holds
a StopLogging of a trail named for it. A marker's latencies are: landing (the rename) -> its
alert's ``created_at`` in the store, and -> the receiver's arrival of its ``alert.created``.
A rate is sustained when every marker arrived and the store p95 stayed under 15 s. The
watcher's CPU use and the time its threads were ready but waiting for a CPU (other processes on
its core, from ``/proc/PID/task/*/schedstat``) are shown, since a shared host decides both.

    python bench/watch.py --rates 500,1000,2000,4000 --seconds 60 --interval 1
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from pipelines.settings import Settings  # noqa: E402
from service.db import open_database  # noqa: E402
from service.webhooks import store  # noqa: E402
from service.webhooks.store import NewSubscription  # noqa: E402

ACCOUNT = "210987654321"
GRACE_SECONDS = 60.0
BATCH_SECONDS = re.compile(r", ([0-9.]+) s(?:;|$)")
"""A progress line's own duration (its last figure)."""


class Receiver:
    """Records when each alert's creation arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        seen = self.arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("X-Functrail-Event") == "alert.created":
                    seen.setdefault(body["alert"]["id"], time.time())
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def records(run: str, first: int, count: int, marker: str | None) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out: list[dict[str, Any]] = []
    for n in range(first, first + count):
        kind = n % 20
        role = f"fn-{n % 40}"
        identity = {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}-role/{role}",
            "accountId": ACCOUNT,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}-role",
                    "accountId": ACCOUNT,
                    "userName": f"{role}-role",
                }
            },
        }
        source, name, params = "lambda.amazonaws.com", "Invoke", {"functionName": f"fn-{n % 50}"}
        if kind == 0:
            source, name, params = (
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                {"secretId": f"prod/{role}"},
            )
        elif kind == 1:
            name, params = "GetFunction20150331v2", {"functionName": role}
        out.append(
            {
                "eventVersion": "1.09",
                "eventID": f"{run}-{n:09d}",
                "eventTime": now,
                "eventSource": source,
                "eventName": name,
                "awsRegion": "eu-central-1",
                "recipientAccountId": ACCOUNT,
                "sourceIPAddress": "3.120.1.10",
                "userAgent": "Boto3/1.34.0 exec-env/AWS_Lambda_python3.12",
                "userIdentity": identity,
                "requestParameters": params,
                "readOnly": name != "Invoke",
                "eventType": "AwsApiCall",
            }
        )
    if marker is not None:
        out.append(
            {
                **out[0],
                "eventID": f"{run}-{marker}",
                "eventSource": "cloudtrail.amazonaws.com",
                "eventName": "StopLogging",
                "readOnly": False,
                "requestParameters": {"name": marker},
            }
        )
    return orjson.dumps({"Records": out})


@dataclass
class Outcome:
    rate: int
    seconds: float
    events: int
    markers: int
    stored: list[float] = field(default_factory=list)
    delivered: list[float] = field(default_factory=list)
    cpu: float = 0.0
    waited: float = 0.0
    """share of the run the watcher's threads spent ready but waiting for a CPU"""
    batches: int = 0
    batch_seconds: list[float] = field(default_factory=list)

    @property
    def sustained(self) -> bool:
        return (
            len(self.stored) == self.markers
            and len(self.delivered) == self.markers
            and bool(self.stored)
            and pct(self.stored, 95) < 15
        )


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def runqueue_seconds(pid: int) -> float:
    """Seconds the process's threads waited for a CPU (ready to run, another task on it)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        total += int(stat.read_text().split()[1])
    return total / 1e9


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_rate(rate: int, args: argparse.Namespace) -> Outcome:
    root = Path(tempfile.mkdtemp(prefix=f"watch-bench-{rate}-"))
    folder = root / "in"
    folder.mkdir()
    settings = Settings(home=root / "home", webhook_allow_private=True)
    receiver = Receiver()
    db = open_database(settings)
    with db.session() as session:
        store.create_subscription(
            session, settings, NewSubscription(url=receiver.url, min_severity="info")
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNCTRAIL_")}
    env.update(FUNCTRAIL_HOME=str(settings.home), FUNCTRAIL_WEBHOOK_ALLOW_PRIVATE="1")
    env["PYTHONPATH"] = str(HERE)
    command = [sys.executable, "-c", "from service.cli import main; main()", "watch"]
    watch = subprocess.Popen(
        [*command, "--interval", str(args.interval), str(folder)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.sched_setaffinity(0, {0}),
    )
    lines: list[str] = []

    def read() -> None:
        for line in watch.stderr or []:
            lines.append(line.decode())

    threading.Thread(target=read, daemon=True).start()
    run = f"b{rate}"
    drop(folder, "warm.json", records(f"{run}w", 0, 10, None))
    while not any(line.startswith("watch batch") for line in lines):
        if watch.poll() is not None:
            raise SystemExit("".join(lines))
        time.sleep(0.1)
    files_per_second = max(1.0, rate / args.file_events)
    per_file = max(1, round(rate / files_per_second))
    landed: dict[str, float] = {}
    cpu_start, began = cpu_seconds(watch.pid), time.monotonic()
    waited_start = runqueue_seconds(watch.pid)
    n, sent, next_marker = 0, 0, 0.0
    while (elapsed := time.monotonic() - began) < args.seconds:
        marker = None
        if elapsed >= next_marker:
            marker = f"trail-{rate}-{len(landed):05d}"
            next_marker += args.marker_every
        drop(folder, f"f{n:07d}.json", records(run, sent, per_file, marker))
        if marker is not None:
            landed[marker] = time.time()
        sent += per_file
        n += 1
        pause = began + n / files_per_second - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    duration = time.monotonic() - began
    outcome = Outcome(rate, duration, sent, len(landed))
    deadline = time.monotonic() + GRACE_SECONDS
    from sqlalchemy import select

    from service.alerts.models import AlertRow

    found: dict[str, tuple[str, datetime]] = {}
    while time.monotonic() < deadline:
        with db.session() as session:
            rows = session.execute(
                select(AlertRow.resource, AlertRow.id, AlertRow.created_at).where(
                    AlertRow.rule_id == "aws_cloudtrail_stop_logging"
                )
            )
            found = {r: (i, c) for r, i, c in rows if r in landed}
        if len(found) == len(landed) and all(i in receiver.arrived for i, _ in found.values()):
            break
        time.sleep(0.5)
    outcome.cpu = (cpu_seconds(watch.pid) - cpu_start) / duration
    outcome.waited = (runqueue_seconds(watch.pid) - waited_start) / duration
    watch.terminate()
    watch.wait(60)
    batch_lines = [line for line in lines if line.startswith("watch batch")]
    outcome.batches = len(batch_lines)
    outcome.batch_seconds = [
        float(hit.group(1)) for line in batch_lines if (hit := BATCH_SECONDS.search(line))
    ]
    for marker, (alert, created) in found.items():
        outcome.stored.append(created.replace(tzinfo=UTC).timestamp() - landed[marker])
        if alert in receiver.arrived:
            outcome.delivered.append(receiver.arrived[alert] - landed[marker])
    db.dispose()
    receiver.server.shutdown()
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return outcome


def drop(folder: Path, name: str, body: bytes) -> None:
    hidden = folder / f".{name}"
    hidden.write_bytes(body)
    os.replace(hidden, folder / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="500,1000,2000,4000", help="events/s, comma separated")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--file-events", type=int, default=200, help="events per file")
    parser.add_argument("--marker-every", type=float, default=2.0, help="seconds")
    parser.add_argument("--keep", action="store_true", help="keep each rate's data folder")
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    print(
        "| events/s offered | events | markers | store p50 / p95 / p99 (s) "
        "| webhook p50 / p95 / p99 (s) | watcher CPU / waiting for it | batches (p95 / max s) "
        "| sustained |"
    )
    print("|---:|---:|---:|---|---|---:|---|---|")
    best = None
    for rate in (int(r) for r in args.rates.split(",")):
        out = run_rate(rate, args)
        s = " / ".join(f"{pct(out.stored, p):.2f}" for p in (50, 95, 99))
        w = " / ".join(f"{pct(out.delivered, p):.2f}" for p in (50, 95, 99))
        print(
            f"| {rate} | {out.events} | {len(out.stored)}/{out.markers} | {s} | {w} "
            f"| {out.cpu:.0%} / {out.waited:.0%} "
            f"| {out.batches} ({pct(out.batch_seconds, 95):.2f} / "
            f"{max(out.batch_seconds, default=0):.2f}) | {'yes' if out.sustained else 'no'} |",
            flush=True,
        )
        if out.sustained:
            best = rate
    print(f"highest sustained rate: {best} events/s (interval {args.interval:g} s, one core)")


if __name__ == "__main__":
    main()
