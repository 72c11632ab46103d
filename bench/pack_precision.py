"""The rule pack's precision on ordinary traffic: what a week of attack-free simulated traffic
raises, by day, severity and rule, and the issue's figure: alerts of medium or above per day
per 25k events (the budget is 1).

    python bench/pack_precision.py [--days 7] [--scale 1] [--seed 3] [--start 2026-03-02]
                                   [--rules DIR ...] [--keep DIR] [--json PATH]

Runs the commands a user runs, each in its own process:

    functrail simulate --days N --out DIR --seed S --scale X --start D   (no --attack)
    functrail detect DIR/aws DIR/gcp --detectors rules --format jsonl [--rules DIR ...]

and reads the alerts ``detect`` prints (one line each, folded by the rule's dedup key over the
whole run) and its summary line (events read, rejects). An alert counts on the day it was first
seen; ``matched`` is the number of events folded into it. Prints the commands, tables, and the
figures as one JSON line last (also written to ``--json``). Exits 1 if a command fails.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "info")
LOUD = ("critical", "high", "medium")
PER_EVENTS = 25_000
BUDGET = 1.0
SUMMARY = re.compile(r"(\d+) events, (\d+) rejected, (\d+) alerts")


def functrail() -> list[str]:
    """The ``functrail`` beside this interpreter (the venv's), else the one on PATH."""
    here = Path(sys.executable).with_name("functrail")
    found = str(here) if here.exists() else shutil.which("functrail")
    if not found:
        raise SystemExit("functrail is not installed in this environment")
    return [found]


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise SystemExit(f"{' '.join(args[1:3])} failed ({done.returncode}): " + "\n".join(tail))
    return done


def commands(
    out: Path, days: int, seed: int, scale: float, start: date, rules: list[Path]
) -> list[list[str]]:
    simulate = ["simulate", "--days", str(days), "--out", str(out), "--seed", str(seed),
                "--scale", str(scale), "--start", start.isoformat(), "--overwrite"]  # fmt: skip
    detect = ["detect", str(out / "aws"), str(out / "gcp"), "--detectors", "rules",
              "--format", "jsonl"]  # fmt: skip
    for folder in rules:
        detect += ["--rules", str(folder)]
    return [simulate, detect]


def tally(alerts: list[dict[str, Any]], events: int, start: date, days: int) -> dict[str, Any]:
    """The figures: alerts per day by severity, per rule, and medium+ per day per 25k events."""
    by_day: dict[str, Counter[str]] = {
        (start + timedelta(days=n)).isoformat(): Counter() for n in range(days)
    }
    by_rule: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        day = str(alert["first_seen"])[:10]
        severity = str(alert["severity"])
        by_day.setdefault(day, Counter())[severity] += 1
        rule = by_rule.setdefault(
            str(alert["rule_id"]), {"severity": severity, "alerts": 0, "matched": 0}
        )
        rule["alerts"] += 1
        rule["matched"] += int(alert.get("count") or 1)
    loud = sum(1 for a in alerts if a["severity"] in LOUD)
    per_day = events / days if days else 0.0
    figure = loud / days / (per_day / PER_EVENTS) if per_day else 0.0
    return {
        "events": events,
        "days": days,
        "events_per_day": round(per_day, 1),
        "alerts": len(alerts),
        "alerts_by_severity": {s: sum(c[s] for c in by_day.values()) for s in SEVERITIES},
        "alerts_per_day_by_severity": {
            day: {s: counts[s] for s in SEVERITIES} for day, counts in sorted(by_day.items())
        },
        "alerts_by_rule": dict(
            sorted(
                by_rule.items(),
                key=lambda kv: (SEVERITIES.index(kv[1]["severity"]), -kv[1]["alerts"], kv[0]),
            )
        ),
        "medium_or_above": loud,
        "medium_or_above_per_day_per_25k_events": round(figure, 3),
        "budget": BUDGET,
        "within_budget": figure <= BUDGET,
    }


def report(figures: dict[str, Any], lines: list[str]) -> None:
    for line in lines:
        print("$ " + line)
    print(
        f"\n{figures['events']:,} events in {figures['days']} days "
        f"({figures['events_per_day']:,.0f} a day), {figures['rejects']} rejected, "
        f"{figures['alerts']} alerts"
    )
    header = f"{'day':<12}" + "".join(f"{s:>10}" for s in SEVERITIES)
    print("\n" + header)
    for day, counts in figures["alerts_per_day_by_severity"].items():
        print(f"{day:<12}" + "".join(f"{counts[s]:>10}" for s in SEVERITIES))
    totals = figures["alerts_by_severity"]
    print(f"{'total':<12}" + "".join(f"{totals[s]:>10}" for s in SEVERITIES))
    if figures["alerts_by_rule"]:
        print(f"\n{'rule':<52} {'severity':>9} {'alerts':>7} {'matched':>8}")
        for rule, row in figures["alerts_by_rule"].items():
            print(f"{rule:<52} {row['severity']:>9} {row['alerts']:>7} {row['matched']:>8}")
    verdict = "within" if figures["within_budget"] else "OVER"
    print(
        f"\nmedium or above: {figures['medium_or_above']} alerts = "
        f"{figures['medium_or_above_per_day_per_25k_events']:.3f} per day per 25k events "
        f"({verdict} the budget of {BUDGET:g})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 2))
    parser.add_argument("--rules", type=Path, action="append", default=[],
                        help="extra Sigma rule folder (repeatable), as detect --rules")  # fmt: skip
    parser.add_argument("--keep", type=Path, help="simulate into this folder and keep it")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pack-precision-") as tmp:
        out = args.keep or Path(tmp) / "sim"
        exe = functrail()
        simulate, detect = commands(out, args.days, args.seed, args.scale, args.start, args.rules)
        run(exe + simulate)
        done = run(exe + detect)
    summary = SUMMARY.search(done.stderr)
    if summary is None:
        raise SystemExit(f"detect printed no summary: {done.stderr.strip()[-300:]}")
    events, rejects, _ = map(int, summary.groups())
    alerts = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    figures = tally(alerts, events, args.start, args.days)
    figures["rejects"] = rejects
    shown = [" ".join(["functrail", *command]) for command in (simulate, detect)]
    figures["commands"] = shown
    figures["seed"], figures["scale"] = args.seed, args.scale
    report(figures, shown)
    line = json.dumps(figures, sort_keys=False)
    if args.json:
        args.json.write_text(line + "\n", encoding="utf-8")
    print(line)


if __name__ == "__main__":
    main()
