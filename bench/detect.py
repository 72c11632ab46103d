"""Rule engine benchmark: the whole pack over simulated logs, against the orjson parse floor
and pypanther's own CloudTrail rules, in one run.

    python bench/detect.py [--days 1] [--scale 1.0] [--seed 7] [--repeat 3]
                           [--pypanther-python /tmp/bench-venv/bin/python] [--rules DIR]...

Simulates ``days`` of traffic with every attack (pipelines.simulate), normalizes it once
(not timed here: bench/normalize.py covers that), then times each method in its own child
process, one core, median of ``repeat`` runs, peak RSS per child:

  orjson floor     orjson.loads of every record's raw JSON (what any engine must at least do)
  detect           detectors.rules.run_rules: the whole pack (and the ``--rules`` folders, e.g.
                   SigmaHQ's cloud rules), alerts built and folded
  detect aws       the same over the CloudTrail events only (what pypanther sees)
  pypanther        pypanther's CloudTrail rules per event (separate venv, see docs/rules.md)
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child(method: str, parquet: Path, repeat: int, rules: list[Path]) -> dict[str, object]:
    import orjson
    import pyarrow.parquet as pq

    from pipelines.events import events_from_arrow

    events = events_from_arrow(pq.read_table(parquet))
    if method == "detect-aws":
        events = events[(events["provider"] == "aws").to_numpy(dtype=bool)].reset_index(drop=True)
    times: list[float] = []
    alerts = 0
    if method == "floor":
        raws = events["raw"].tolist()
        for _ in range(repeat):
            start = time.perf_counter()
            for raw in raws:
                orjson.loads(raw)
            times.append(time.perf_counter() - start)
    else:
        from detectors.rules.engine import run_rules
        from detectors.rules.loader import load_registry

        registry, errors = load_registry(rules)
        if errors:
            raise SystemExit(f"rules did not load: {[e.line() for e in errors]}")
        for _ in range(repeat):
            gc.collect()
            start = time.perf_counter()
            alerts = len(run_rules(events, registry))
            times.append(time.perf_counter() - start)
    return {
        "seconds": statistics.median(times),
        "events": len(events),
        "alerts": alerts,
        "peak_mb": _peak_mb(),
        **({"rules": len(registry)} if method != "floor" else {}),
    }


def prepare(days: int, scale: float, seed: int, work: Path) -> tuple[Path, Path, int]:
    import pyarrow.parquet as pq

    from pipelines.events import events_to_arrow
    from pipelines.normalize import concat_batches, normalize_blob
    from pipelines.simulate import ATTACKS, simulate
    from pipelines.sources.local import iter_local_blobs

    simulate(work / "sim", days, seed, list(ATTACKS), scale=scale)
    batches = [
        normalize_blob(blob.data, blob.name)
        for blob in iter_local_blobs([str(work / "sim")], on_reject=lambda r: None)
    ]
    batch = concat_batches(batches)
    parquet = work / "events.parquet"
    pq.write_table(events_to_arrow(batch.events), parquet)
    records = work / "cloudtrail.jsonl"
    aws = batch.events[(batch.events["provider"] == "aws").to_numpy(dtype=bool)]
    records.write_text("\n".join(aws["raw"].tolist()) + "\n", encoding="utf-8")
    return parquet, records, len(batch.rejects)


def run_child(args: list[str]) -> dict[str, object]:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pypanther-python", default="/tmp/bench-venv/bin/python")
    parser.add_argument(
        "--pypanther-repeat", type=int, default=1, help="pypanther is slow: runs to take"
    )
    parser.add_argument(
        "--rules", type=Path, action="append", default=[], help="extra rule folder (repeatable)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--parquet", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "prepare":
        _, _, rejected = prepare(args.days, args.scale, args.seed, Path(args.parquet))
        print(json.dumps({"rejects": rejected}))
        return
    if args.child:
        print(json.dumps(child(args.child, Path(args.parquet), args.repeat, args.rules)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp:
        work = Path(tmp)
        # generating and normalizing happen in a child too, so that this parent stays small and
        # each child's peak RSS is its own
        prepared = run_child(
            [sys.executable, __file__, "--child", "prepare", "--parquet", str(work),
             "--days", str(args.days), "--scale", str(args.scale), "--seed", str(args.seed)]
        )  # fmt: skip
        if "error" in prepared:
            raise SystemExit(f"prepare failed: {prepared['error']}")
        parquet, records = work / "events.parquet", work / "cloudtrail.jsonl"
        rejects = prepared["rejects"]
        results: dict[str, dict[str, object]] = {}
        for method in ("floor", "detect", "detect-aws"):
            results[method] = run_child(
                [sys.executable, __file__, "--child", method, "--parquet", str(parquet),
                 "--repeat", str(args.repeat),
                 *[arg for folder in args.rules for arg in ("--rules", str(folder))]]
            )  # fmt: skip
        if Path(args.pypanther_python).exists():
            results["pypanther"] = run_child(
                [args.pypanther_python, str(HERE / "pypanther_cloudtrail.py"), str(records),
                 str(args.pypanther_repeat)]
            )  # fmt: skip
        else:
            results["pypanther"] = {"error": f"{args.pypanther_python} not found"}

    print(f"days={args.days} scale={args.scale} seed={args.seed} repeat={args.repeat}"
          f" pypanther-repeat={args.pypanther_repeat}"
          f" normalize rejects={rejects}")  # fmt: skip
    print(
        f"{'method':<12} {'events':>9} {'seconds':>9} {'events/s':>11} {'alerts':>7} {'peak MB':>8}"
        f" {'rules':>6}"
    )
    for name, r in results.items():
        if "error" in r:
            print(f"{name:<12} error: {r['error']}")
            continue
        rate = float(r["events"]) / float(r["seconds"])  # type: ignore[arg-type]
        print(
            f"{name:<12} {r['events']:>9} {float(r['seconds']):>9.3f} {rate:>11,.0f}"  # type: ignore[arg-type]
            f" {r.get('alerts', ''):>7} {r['peak_mb']:>8} {r.get('rules', ''):>6}"
        )
    floor, det = results.get("floor", {}), results.get("detect", {})
    aws, pp = results.get("detect-aws", {}), results.get("pypanther", {})
    if "seconds" in floor and "seconds" in det:
        print(f"detect / floor time: {float(det['seconds']) / float(floor['seconds']):.2f}x")  # type: ignore[arg-type]
    if "seconds" in aws and "seconds" in pp:
        ours = float(aws["events"]) / float(aws["seconds"])  # type: ignore[arg-type]
        theirs = float(pp["events"]) / float(pp["seconds"])  # type: ignore[arg-type]
        print(
            f"detect aws vs pypanther: {ours / theirs:.1f}x the events/s"
            f" ({pp.get('rules')} pypanther rules;"
            f" {pp.get('skipped_rules')} left out: they need Panther's KV store or network)"
        )


if __name__ == "__main__":
    main()
