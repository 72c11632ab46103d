"""What coverage costs: counting a batch at lake store, and assessing a lake of many accounts.

    python bench/coverage.py --events 1000000 --accounts 200 --days 15

1. ``count_events`` over ``--events`` normalized events (half CloudTrail, half Google Cloud
   LogEntries of ~1.5 KB whose ``logName`` the regular expression finds), the work
   ``EventLake.store`` adds per batch; beside it ``EventLake.store`` of the same batch, the
   cost it is added to.
2. ``assess`` (what ``GET /v1/coverage`` runs) over a lake holding counts for ``--accounts``
   accounts x 3 log types x 24 hours x ``--days`` days (the counts files written directly: the
   events themselves are not read by coverage), median of 5.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

import orjson
import pyarrow as pa

from detectors.coverage import Thresholds, assess
from pipelines.events import EVENT_SCHEMA
from pipelines.lake import EventLake
from pipelines.lake_counts import COUNTS_SCHEMA, count_events

DAY = date(2026, 3, 2)


def batch(n: int) -> tuple[pa.Table, pa.Table]:
    """(aws, gcp) halves of ``n`` events of one day."""
    start = datetime(2026, 3, 2, tzinfo=UTC)
    payload = "x" * 1200
    rows_aws, rows_gcp = [], []
    for i in range(n // 2):
        moment = start + timedelta(seconds=i * 86400 / (n // 2))
        common = {
            "time": moment,
            "region": "eu-west-1",
            "category": "access",
            "principal": "p",
            "principal_type": "role",
            "outcome": "success",
            "read_only": True,
            "origin": "bench",
        }
        invoke = i % 4 == 0
        rows_aws.append(
            {
                **common,
                "id": f"a{i}",
                "provider": "aws",
                "account": f"{i % 50:012d}",
                "service": "lambda.amazonaws.com",
                "action": "Invoke" if invoke else "GetFunction",
                "raw_action": "Invoke" if invoke else "GetFunction20150331v2",
                "raw": orjson.dumps({"eventName": "GetFunction", "pad": payload}).decode(),
            }
        )
        log = "data_access" if i % 3 == 0 else "activity"
        entry = {
            "insertId": f"g{i}",
            "logName": f"projects/p{i % 50}/logs/cloudaudit.googleapis.com%2F{log}",
            "protoPayload": {"pad": payload},
        }
        rows_gcp.append(
            {
                **common,
                "id": f"g{i}",
                "provider": "gcp",
                "account": f"p{i % 50}",
                "service": "secretmanager.googleapis.com",
                "action": "AccessSecretVersion",
                "raw_action": "AccessSecretVersion",
                "raw": orjson.dumps(entry).decode(),
            }
        )
    return (
        pa.Table.from_pylist(rows_aws, schema=EVENT_SCHEMA),
        pa.Table.from_pylist(rows_gcp, schema=EVENT_SCHEMA),
    )


def bench_counting(n: int) -> None:
    aws, gcp = batch(n)
    for name, table in (("aws", aws), ("gcp", gcp)):
        clock = time.perf_counter()
        count_events(name, table)
        took = time.perf_counter() - clock
        print(f"count_events {name}: {table.num_rows:,} events in {took:.3f} s "
              f"({table.num_rows / took / 1e6:.2f} M events/s)")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        lake = EventLake(folder)
        clock = time.perf_counter()
        lake.store(pa.concat_tables([aws, gcp]))
        took = time.perf_counter() - clock
        print(f"EventLake.store of all {n:,} (counts included): {took:.2f} s")


def bench_assess(accounts: int, days: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        lake = EventLake(folder)
        for d in range(days):
            day = DAY - timedelta(days=d)
            rows = [
                {"account": f"{a:012d}", "log_type": t, "hour": h, "n": 100,
                 "last": datetime(day.year, day.month, day.day, h, 59, tzinfo=UTC)}
                for a in range(accounts)
                for t in ("management", "lambda_data", "s3_data")
                for h in range(24)
            ]  # fmt: skip
            lake.counts.write("aws", day, pa.Table.from_pylist(rows, schema=COUNTS_SCHEMA))
        os.makedirs(f"{folder}/provider=aws", exist_ok=True)
        at = datetime(2026, 3, 3, tzinfo=UTC)
        times = []
        for _ in range(5):
            clock = time.perf_counter()
            report = assess(lake, at, Thresholds())
            times.append(time.perf_counter() - clock)
        print(f"assess: {len(report.items)} accounts, {days} days of counts: "
              f"median {statistics.median(times):.3f} s of 5")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--days", type=int, default=15)
    args = parser.parse_args()
    bench_counting(args.events)
    bench_assess(args.accounts, args.days)


if __name__ == "__main__":
    main()
