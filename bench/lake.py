"""Event lake throughput: append (with id dedup), re-append, ranged read, against plain Parquet.

    python bench/lake.py --events 200000 --days 7

Prints events/s per step and the process's peak RSS. The baseline is the simplest thing that
could work: one ``pq.write_table`` of the whole batch (no partitions, no dedup) and a full
read filtered in pandas.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.events import EVENT_SCHEMA, events_from_arrow
from pipelines.lake import EventLake

START = datetime(2026, 3, 1, tzinfo=UTC)


def batch(n: int, days: int, seed: int, offset: int = 0) -> pd.DataFrame:
    """``n`` plausible events spread over ``days``, ids ``offset..offset+n``."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, days * 86400, n))
    times = pa.array(
        [START + timedelta(seconds=int(s)) for s in seconds], pa.timestamp("us", tz="UTC")
    )
    actions = np.array(["GetFunction", "Invoke", "UpdateFunctionCode", "ListFunctions"])
    principals = np.array([f"arn:aws:iam::210987654321:user/u{i}" for i in range(50)])
    columns = {
        "id": pa.array([f"evt-{offset + i:012d}" for i in range(n)]),
        "time": times,
        "provider": pa.array(np.where(rng.random(n) < 0.8, "aws", "gcp")),
        "account": pa.array(np.full(n, "210987654321")),
        "region": pa.array(np.full(n, "eu-central-1")),
        "service": pa.array(np.full(n, "lambda.amazonaws.com")),
        "action": pa.array(actions[rng.integers(0, 4, n)]),
        "raw_action": pa.array(actions[rng.integers(0, 4, n)]),
        "category": pa.array(np.full(n, "access")),
        "principal": pa.array(principals[rng.integers(0, 50, n)]),
        "principal_type": pa.array(np.full(n, "user")),
        "session": pa.nulls(n, pa.string()),
        "source_ip": pa.array(np.full(n, "192.0.2.10")),
        "user_agent": pa.array(np.full(n, "aws-cli/2.15.0")),
        "resource": pa.array(np.full(n, "billing")),
        "outcome": pa.array(np.full(n, "success")),
        "error_code": pa.nulls(n, pa.string()),
        "read_only": pa.array(rng.random(n) < 0.7),
        "mfa": pa.nulls(n, pa.bool_()),
        "raw": pa.array(
            [f'{{"eventID":"evt-{offset + i}","padding":"{"x" * 400}"}}' for i in range(n)]
        ),
    }
    return events_from_arrow(pa.table(columns, schema=EVENT_SCHEMA))


def timed(label: str, n: int, step: Callable[[], object]) -> object:
    began = time.perf_counter()
    result = step()
    took = time.perf_counter() - began
    print(f"{label:<48} {n / took:>12,.0f} events/s  ({took:.2f} s)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    n, days = args.events, args.days
    first = batch(n, days, seed=1)
    second = batch(n, days, seed=2, offset=n)
    with tempfile.TemporaryDirectory() as folder:
        lake = EventLake(str(Path(folder) / "lake"))
        timed("lake.append, empty lake", n, lambda: lake.append(first))
        timed("lake.append, same batch again (all dup)", n, lambda: lake.append(first))
        timed("lake.append, new ids into the same days", n, lambda: lake.append(second))
        day = START + timedelta(days=days // 2)
        got = timed(
            "lake.read one day (pruned), over 2n stored",
            2 * n,
            lambda: lake.read(day, day + timedelta(days=1)),
        )
        print(f"  one day holds {len(got):,} events")  # type: ignore[arg-type]
        timed("lake.read all", 2 * n, lambda: lake.read())
        timed("lake.compact", 2 * n, lake.compact)
        timed(
            "lake.read one day after compact",
            2 * n,
            lambda: lake.read(day, day + timedelta(days=1)),
        )

        plain = Path(folder) / "plain.parquet"
        table = pa.concat_tables(
            [pa.Table.from_pandas(f, preserve_index=False) for f in (first, second)]
        )
        timed(
            "baseline: pq.write_table 2n (no dedup)",
            2 * n,
            lambda: pq.write_table(table, plain, compression="zstd"),
        )

        def full_read_then_filter() -> pd.DataFrame:
            frame = pq.read_table(plain).to_pandas(types_mapper=pd.ArrowDtype)
            mask = (frame["time"] >= pd.Timestamp(day)) & (
                frame["time"] < pd.Timestamp(day + timedelta(days=1))
            )
            return frame[mask]

        timed("baseline: read all + pandas filter one day", 2 * n, full_read_then_filter)
        size = sum(p.stat().st_size for p in Path(folder, "lake").rglob("*.parquet"))
        print(
            f"lake on disk after compact: {size / 2**20:.1f} MiB;"
            f" plain: {plain.stat().st_size / 2**20:.1f} MiB"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
