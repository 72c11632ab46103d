"""End-to-end ``functrail detect`` against the gunzip + orjson parse floor, in one run.

    python bench/detect_e2e.py [--days 1] [--scale 1.0] [--seed 7] [--repeat 5]
                               [--rules DIR]... [--functrail PATH] [--before CHECKOUT]

Simulates ``days`` of varied traffic with every attack (``functrail simulate``: gzip CloudTrail
files and Cloud Storage sink files, as the simulator writes them), then times, each run a
fresh process of the same interpreter (process start included), median of ``repeat`` runs,
peak RSS of each:

  floor         ``python -c``: read every file, gunzip it when it is gzip, orjson-parse every
                record (a whole ``{"Records": [...]}`` document, or one record a line)
  detect        ``functrail detect FILES --detectors rules [--rules DIR] -f jsonl > /dev/null``
                as a user runs it, with a warm rule cache (``FUNCTRAIL_HOME`` of the run)
  1 process     the same with ``FUNCTRAIL_READ_PROCESSES=1``: files read in this process only
                (detect reads on every core it may use: ``pipelines/normalize/parallel.py``)
  detect cold   the same, its first run: the rule cache empty (one run, not a median)
  before        with ``--before CHECKOUT`` (``git worktree add /tmp/before <commit>``): the same
                detect with ``PYTHONPATH=CHECKOUT``, that commit's code, its own warm cache

Floor, detect, 1 process and before take turns, run after run, so they see the same load.
Wall time is what a user waits for; CPU time (user + system of the process and its readers)
is the work done, and it is the steadier figure on a shared machine.

for the whole simulated day and for one file alone (the small input shows the start-up
cost: imports and rule loading). The ratio is detect's median over the floor's.
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
import time
from dataclasses import dataclass, replace
from pathlib import Path

FLOOR = r"""
import gzip, sys
from pathlib import Path
import orjson
count = 0
for root in sys.argv[1:]:
    path = Path(root)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        data = file.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            count += sum(1 for line in data.splitlines() if line.strip() and orjson.loads(line))
            continue
        records = doc.get("Records", [doc]) if isinstance(doc, dict) else doc
        count += len(records)
print(f"{count} events", file=sys.stderr)
"""


@dataclass(frozen=True)
class Timed:
    """One command's median wall time over its runs, its peak RSS, and what it said."""

    name: str
    seconds: float
    runs: list[float]
    peak_mb: float
    cpu: float
    events: int
    alerts: int | None
    command: str


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak RSS (MiB) and stderr of one fresh process.

    Its stdout goes to /dev/null. CPU (user + system) is reported beside wall time because on a
    shared machine the wall time measures the neighbours' load as much as the code.
    """
    with tempfile.TemporaryFile() as errors, open(os.devnull, "wb") as null:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=null, stderr=errors, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        said = errors.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {said[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, said


def timed(name: str, args: list[str], env: dict[str, str], repeat: int) -> Timed:
    """Median of ``repeat`` fresh runs of ``args``; events and alerts read from its stderr."""
    return interleaved({name: (args, env)}, repeat)[0]


def interleaved(cases: dict[str, tuple[list[str], dict[str, str]]], repeat: int) -> list[Timed]:
    """Each case run ``repeat`` times, taking turns (floor, detect, before, floor, ...): on a
    shared machine the load drifts, and runs next to each other see the same load."""
    runs: dict[str, list[tuple[float, float, float, str]]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, (args, env) in cases.items():
            runs[name].append(run_once(args, env))
    out = []
    for name, (args, _) in cases.items():
        said = runs[name][-1][3]
        events = re.search(r"(\d+) events", said)
        alerts = re.search(r"(\d+) alerts", said)
        out.append(
            Timed(
                name=name,
                seconds=statistics.median(r[0] for r in runs[name]),
                runs=[r[0] for r in runs[name]],
                peak_mb=max(r[2] for r in runs[name]),
                cpu=statistics.median(r[1] for r in runs[name]),
                events=int(events.group(1)) if events else 0,
                alerts=int(alerts.group(1)) if alerts else None,
                command=" ".join(args),
            )
        )
    return out


def functrail_command(given: str | None) -> list[str]:
    """The ``functrail`` beside this interpreter (the same one the floor runs on)."""
    if given:
        return [given]
    beside = Path(sys.executable).parent / "functrail"
    found = str(beside) if beside.exists() else shutil.which("functrail")
    if not found:
        raise SystemExit("functrail not found: install the project or pass --functrail")
    return [found]


def measure(
    label: str,
    inputs: list[str],
    functrail: list[str],
    rules: list[str],
    repeat: int,
    home: Path,
    before: Path | None = None,
) -> list[Timed]:
    """Floor, warm detect (and, with ``before``, warm detect of that checkout's code) taking
    turns over ``inputs``, each in fresh processes, then this code's cold detect."""
    env = {**os.environ, "FUNCTRAIL_HOME": str(home)}
    shutil.rmtree(home, ignore_errors=True)
    rule_args = [arg for folder in rules for arg in ("--rules", folder)]
    detect = [*functrail, "detect", *inputs, "--detectors", "rules", *rule_args, "-f", "jsonl"]
    floor = [sys.executable, "-c", FLOOR, *inputs]
    cold = timed(f"{label} detect cold", detect, env, 1)
    alone = {**env, "FUNCTRAIL_READ_PROCESSES": "1"}
    cases = {
        f"{label} floor": (floor, env),
        f"{label} detect": (detect, env),
        f"{label} 1 process": (detect, alone),
    }
    if before is not None:
        earlier = {**env, "PYTHONPATH": str(before), "FUNCTRAIL_HOME": f"{home}-before"}
        shutil.rmtree(f"{home}-before", ignore_errors=True)
        run_once(detect, earlier)  # its rule cache warm, as this code's is
        cases[f"{label} before"] = (detect, earlier)
    rows = interleaved(cases, repeat)
    rows[2] = replace(rows[2], command=f"FUNCTRAIL_READ_PROCESSES=1 {rows[2].command}")
    if before is not None:  # say which code the row ran
        rows[-1] = replace(rows[-1], command=f"PYTHONPATH={before} {rows[-1].command}")
    return [*rows, cold]


def report(rows: list[Timed]) -> None:
    print(
        f"{'case':<22} {'events':>8} {'seconds':>8} {'events/s':>10} {'x floor':>8}"
        f" {'CPU s':>7} {'x floor':>8} {'alerts':>7} {'peak MiB':>9}  runs (wall s)"
    )
    floors = {row.name.split()[0]: row for row in rows if row.name.endswith("floor")}
    for row in rows:
        floor = floors[row.name.split()[0]]
        ratio, cpu_ratio = row.seconds / floor.seconds, row.cpu / floor.cpu
        alerts = "" if row.alerts is None else str(row.alerts)
        runs = " ".join(f"{s:.2f}" for s in row.runs)
        print(
            f"{row.name:<22} {row.events:>8} {row.seconds:>8.3f} {row.events / row.seconds:>10,.0f}"
            f" {ratio:>7.2f}x {row.cpu:>7.3f} {cpu_ratio:>7.2f}x {alerts:>7}"
            f" {row.peak_mb:>9.0f}  {runs}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--rules", action="append", default=[], help="extra Sigma rule folder (repeatable)"
    )
    parser.add_argument("--functrail", help="the functrail command (default: beside python)")
    parser.add_argument("--keep", type=Path, help="simulate into this folder and keep it")
    parser.add_argument(
        "--before",
        type=Path,
        help="a checkout of earlier code (git worktree): its detect is timed too, in turns",
    )
    args = parser.parse_args()
    functrail = functrail_command(args.functrail)

    with tempfile.TemporaryDirectory(prefix="bench-detect-e2e-") as tmp:
        work = args.keep or Path(tmp)
        sim = work / "sim"
        subprocess.run(
            [*functrail, "simulate", "--days", str(args.days), "--scale", str(args.scale),
             "--seed", str(args.seed), "--attack", "all", "--out", str(sim), "--overwrite"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        day = [str(sim / "aws"), str(sim / "gcp")]
        one = max((sim / "aws").rglob("*.json.gz"), key=lambda p: p.stat().st_size)
        home, one_home = Path(tmp) / "home", Path(tmp) / "h1"
        rows = [
            *measure("day", day, functrail, args.rules, args.repeat, home, args.before),
            *measure(
                "one-file", [str(one)], functrail, args.rules, args.repeat, one_home, args.before
            ),
        ]
    print(
        f"days={args.days} scale={args.scale} seed={args.seed} repeat={args.repeat}"
        f" rules={' '.join(args.rules) or '(pack only)'} python={sys.executable}"
    )
    report(rows)
    for row in rows:
        if row.name.endswith(("floor", "detect", "process", "before")) and row.name.startswith(
            "day"
        ):
            print(f"{row.name}: {row.command.replace(FLOOR, '<FLOOR script in this file>')}")


if __name__ == "__main__":
    main()
