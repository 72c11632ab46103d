"""Benchmark the whole score job (ingest + detect + store) on a Dask LocalCluster of 1, 2 and 4
worker processes against the local run (the simplest alternative: same code, ``LocalRunner``).

    python bench/score_dask.py --scale 8            # one simulated day, ~256k events

Each worker count runs in its own child process (peak RSS is that child's alone) and scores the
day twice into an empty lake and database: cold (imports and rule-pack load paid, in every
worker too) and warm (a long-lived cluster). The input files are in the page cache, and the
cluster is started before the clock starts (its start-up is reported apart). Results are
checked equal to the local run's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

DAY = date(2026, 3, 2)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(work: Path, workers: int, part_events: int) -> dict[str, object]:
    """Score the day twice, each time into an empty lake and database: ``cold`` pays the
    imports and rule-pack load (in every worker too), ``warm`` is a long-lived cluster's case.
    """
    from pipelines.runner import DaskRunner, LocalRunner, Runner

    runner: Runner = LocalRunner()
    startup = 0.0
    cluster = None
    if workers:
        from distributed import LocalCluster

        began = time.perf_counter()
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        runner = DaskRunner(cluster.scheduler_address)
        runner.client.wait_for_workers(workers)
        startup = time.perf_counter() - began
    report: dict[str, object] = {"workers": workers, "cluster_start_s": round(startup, 1)}
    for attempt in ("cold", "warm"):
        report[attempt] = _score(work, f"run{workers}-{attempt}", runner, part_events)
    if isinstance(runner, DaskRunner):
        report["worker_peak_mib"] = round(max(runner.client.run(_peak_mib).values()))
        runner.close()
    if cluster is not None:
        cluster.close()
    report["driver_peak_mib"] = round(_peak_mib())
    return report


def _score(work: Path, name: str, runner: Any, part_events: int) -> dict[str, object]:
    from pipelines.settings import Settings
    from service.db import open_database
    from service.scoring.job import score_day

    settings = Settings(home=work / name)
    db = open_database(settings)
    began = time.perf_counter()
    logs = [str(work / "logs")]
    result = score_day(DAY, logs, settings, db, runner=runner, part_events=part_events)
    seconds = time.perf_counter() - began
    db.dispose()
    return {"events": result.events, "ingested": result.ingested,
            "rejects": len(result.rejects), "alerts": result.alerts,
            "seconds": round(seconds, 2), "events_per_s": round(result.events / seconds),
            "steps_s": {k: round(v, 1) for k, v in result.timings.items()}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=8.0, help="1.0 ~ 32k events a day")
    parser.add_argument("--part-events", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,4", help="Dask worker counts")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_child(args.work, args.child, args.part_events)))
        return
    from pipelines.simulate import simulate

    with tempfile.TemporaryDirectory(prefix="bench-score-dask-") as tmp:
        work = Path(tmp)
        began = time.perf_counter()
        simulate(work / "logs", 1, 0, ["all"], DAY, args.scale)
        files = [path for path in (work / "logs").rglob("*") if path.is_file()]
        for path in files:  # warm the page cache: no run pays for it
            path.read_bytes()
        print(f"simulated scale {args.scale}: {len(files)} files in "
              f"{time.perf_counter() - began:.0f}s", flush=True)  # fmt: skip
        local: dict[str, Any] | None = None
        for workers in [0, *(int(n) for n in args.workers.split(",") if n)]:
            command = [sys.executable, __file__, "--child", str(workers), "--work", str(work),
                       "--part-events", str(args.part_events)]  # fmt: skip
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            run = json.loads(out.strip().splitlines()[-1])
            local = local or run
            label = "local (LocalRunner)" if not workers else f"Dask, {workers} worker(s)"
            for attempt in ("cold", "warm"):
                mine, base = run[attempt], local[attempt]
                same = all(mine[k] == base[k] for k in ("events", "ingested", "rejects", "alerts"))
                speedup = base["seconds"] / mine["seconds"]
                print(f"{label} {attempt}: {json.dumps(mine)} speed-up {speedup:.2f}x "
                      f"same-results={same}", flush=True)  # fmt: skip
            extra = {k: v for k, v in run.items() if k not in ("cold", "warm")}
            print(f"{label}: {json.dumps(extra)}", flush=True)


if __name__ == "__main__":
    main()
