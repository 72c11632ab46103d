"""Benchmark ``functrail score``: events/s and peak RSS of the daily job on a simulated day,
against the simplest alternative (the whole day in one DataFrame, rules run once), and the
detection step on a Dask LocalCluster of 1, 2, 4 worker processes.

    python bench/score.py --scale 4          # ~128k events; --scale 32 ~ 1M, --scale 320 ~ 10M
    python bench/score.py --scale 320 --logs /big/day --modes score --workers ''
    python bench/score.py --scale 32 --train-days 3 --modes score --workers ''   # + a model

``--train-days N`` first simulates the N days before DAY (at ``--train-scale``, same seed: the
same organization, smaller), ingests them into a lake of their own and trains and activates an
anomaly model (a step of its own, reported but not part of the score run), so the score run
measures the rules and an active model: per-principal detectors per partition, volume series
and the alert guard once per day.

Each measurement runs in its own child process, so peak RSS is that step's alone; the child
also samples its RSS every 50 ms by step (ingest, detect, store). ``--logs DIR`` simulates into
DIR only when it holds no day yet, so a 10M-event day (1.7 GB, 3.5 min, 7.5 GB RSS to write) is
simulated once; ``--modes`` picks the runs (``whole`` needs ~6 KB an event: skip it at 10M).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

DAY = date(2026, 3, 2)


class StepPeaks:
    """Peak RSS (MiB) per step, sampled by a thread: ``ru_maxrss`` only gives the whole run's."""

    def __init__(self) -> None:
        self.step = "start"
        self.peaks: dict[str, int] = {}
        threading.Thread(target=self._sample, daemon=True).start()

    def say(self, text: str) -> None:
        """A ``score_day`` progress line: ``<day>: ingesting ...`` -> step ``ingest`` etc."""
        word = text.split(": ", 1)[-1].split(" ", 1)[0]
        self.step = {"ingesting": "ingest", "ingest": "ingest", "detected": "detect"}.get(
            word, "store" if word == "storing" else self.step
        )

    def _sample(self) -> None:
        while True:
            with open("/proc/self/statm") as statm:
                mib = int(statm.read().split()[1]) * resource.getpagesize() // 2**20
            self.peaks[self.step] = max(self.peaks.get(self.step, 0), mib)
            time.sleep(0.05)


def _child(mode: str, work: Path, logs: Path, workers: int, part_events: int) -> dict[str, object]:
    from pipelines.settings import Settings
    from service.db import open_database
    from service.scoring.job import day_range, score_day

    began = time.perf_counter()
    steps: dict[str, float] = {}
    peaks = StepPeaks()
    models = work / "models" if (work / "models").is_dir() else None
    if mode == "train":
        return _train(work, logs, workers, began)
    if mode == "score":
        settings = Settings(home=work / "score", lake=str(work / "lake"), models=models)
        db = open_database(settings)
        result = score_day(
            DAY, [str(logs)], settings, db, part_events=part_events, progress=peaks.say
        )
        events, alerts = result.events, result.alerts
        steps = {k: round(v, 1) for k, v in result.timings.items()}
    elif mode == "whole":
        from detectors.rules.engine import run_rules
        from detectors.rules.loader import load_registry
        from pipelines.ingest import ingest_range
        from pipelines.lake import EventLake

        settings = Settings(home=work / "whole", lake=str(work / "whole-lake"))
        lake = EventLake(settings.lake_root)
        peaks.step = "ingest"
        ingest_range([str(logs)], lake, settings, *day_range(DAY))
        peaks.step = "detect"
        frame = lake.read(*day_range(DAY))
        registry, _ = load_registry([])
        events, alerts = len(frame), len(run_rules(frame, registry))
    else:  # dask: detection only, over the lake the "score" child filled
        from distributed import LocalCluster

        from service.scoring.runner import DaskRunner

        with LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            runner = DaskRunner(cluster.scheduler_address)
            settings = Settings(
                home=work / f"dask{workers}", lake=str(work / "lake"), models=models
            )
            db = open_database(settings)
            began = time.perf_counter()
            result = score_day(DAY, [], settings, db, runner=runner, part_events=part_events)
            runner.close()
        events, alerts = result.events, result.alerts
    seconds = time.perf_counter() - began
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "workers": workers, "events": events, "alerts": alerts,
            "model": models is not None,
            "seconds": round(seconds, 2), "events_per_s": round(events / seconds),
            "peak_rss_mib": round(peak_mib), "steps_s": steps,
            "peak_rss_mib_by_step": peaks.peaks}  # fmt: skip


def _train(work: Path, logs: Path, days: int, began: float) -> dict[str, object]:
    """Ingest the ``days`` simulated days before DAY and activate a model trained on them."""
    from models.bundle import TrainConfig
    from models.registry import ModelRegistry
    from models.train import lake_days, train
    from pipelines.features import FEATURE_COLUMNS
    from pipelines.ingest import ingest_range
    from pipelines.lake import EventLake
    from pipelines.settings import Settings
    from service.scoring.job import day_range

    first = DAY - timedelta(days=days)
    settings = Settings(home=work / "train", lake=str(work / "train-lake"), models=work / "models")
    lake = EventLake(settings.lake_root)
    tally = ingest_range([str(logs)], lake, settings, day_range(first)[0], day_range(DAY)[0])

    def read(begin: datetime, end: datetime) -> pd.DataFrame:
        return lake.read(begin, end, columns=list(FEATURE_COLUMNS))

    model = train(lake_days(read, first, DAY - timedelta(days=1)), TrainConfig())
    version = ModelRegistry(settings.models_dir).register(model, activate=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": "train", "days": days, "events": tally.new, "model": version,
            "principals": len(model.history.principals), "volume_series": len(model.volume),
            "seconds": round(time.perf_counter() - began, 2),
            "peak_rss_mib": round(peak_mib)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=4.0, help="1.0 ~ 25k events a day")
    parser.add_argument("--part-events", type=int, default=250_000)
    parser.add_argument("--workers", default="1,2,4", help="Dask worker counts ('' for none)")
    parser.add_argument("--modes", default="whole,score", help="local runs: whole, score")
    parser.add_argument("--logs", type=Path, help="keep the simulated day here (reused if there)")
    parser.add_argument("--train-days", type=int, default=0, help="train a model on N days first")
    parser.add_argument("--train-scale", type=float, default=4.0, help="scale of those days")
    parser.add_argument("--train-logs", type=Path, help="keep the training days here (reused)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        logs = args.logs or args.work / "logs"
        print(json.dumps(_child(args.child, args.work, logs, args.n, args.part_events)))
        return
    from pipelines.simulate import simulate

    with tempfile.TemporaryDirectory(prefix="bench-score-") as tmp:
        work = Path(tmp)
        logs = args.logs or work / "logs"
        if not (logs / "labels.jsonl").exists():
            began = time.perf_counter()
            simulate(logs, 1, 0, ["all"], DAY, args.scale, overwrite=True)
            print(f"simulated scale {args.scale} in {time.perf_counter() - began:.0f}s", flush=True)
        if args.train_days:
            train_logs = args.train_logs or work / "train-logs"
            if not (train_logs / "labels.jsonl").exists():
                first = DAY - timedelta(days=args.train_days)
                scale = args.train_scale
                simulate(train_logs, args.train_days, 0, [], first, scale, overwrite=True)
            command = [sys.executable, __file__, "--child", "train", "--work", str(work),
                       "--logs", str(train_logs), "--n", str(args.train_days)]  # fmt: skip
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            print(out.strip().splitlines()[-1], flush=True)
        for path in logs.rglob("*"):  # warm the page cache: no run pays for it
            if path.is_file():
                path.read_bytes()
        runs = [(mode, 0) for mode in args.modes.split(",") if mode]
        runs += [("dask", int(n)) for n in args.workers.split(",") if n]
        for mode, n in runs:
            command = [sys.executable, __file__, "--child", mode, "--work", str(work),
                       "--logs", str(logs), "--n", str(n),
                       "--part-events", str(args.part_events)]  # fmt: skip
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            print(out.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
