"""Evaluate the anomaly detectors over several simulated weeks and seeds: per-scenario recall,
alerts per day that match no attack (on attack-free days too), and a precision/recall curve.

Per seed: ``--train-days`` of attack-free traffic are simulated and trained on (from an event
lake, as ``functrail train`` does); then ``--weeks`` weeks more of the same organization, with
the anomaly scenarios injected (each once per week, on days the simulator picks), are scored
day by day, the principal history and the functions' configuration moving on after each day
as the daily job moves them. Alerts are matched to ``labels.jsonl`` by ``models.evaluation``
(the demo's matching). The curve sweeps a minimum alert score over every seed's alerts.

    python bench/anomaly_eval.py --seeds 1 2 3 4 5 --train-days 10 --weeks 1 --scale 0.3 \\
        --png docs/img/anomaly-pr.png

One seed injects the same attacks every week (same principal, address, hour): with
``--weeks 2`` the second week measures repeats of caught attacks, which novelty no longer
flags unless an analyst confirmed the first (``--confirm``: each alert that caught an attack
is called a true positive the next morning, so its first-seen values stay unknown to the
principal, as ``functrail`` does after such a verdict); more seeds measure first occurrences.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from detectors.alert import Alert
from detectors.anomaly import detect_anomalies
from models.bundle import TrainConfig
from models.evaluation import Flagged, Label, Scorecard, matches, read_labels, score_alerts
from models.train import lake_days, train
from models.verdicts import Adjustment, adjust_history, adjustment_from_alert
from pipelines.features import FEATURE_COLUMNS, window_start
from pipelines.features.functions import config_changes, read_config_changes
from pipelines.lake import EventLake
from pipelines.normalize import concat_batches, normalize_blobs
from pipelines.simulate import simulate
from pipelines.sources.local import iter_local_blobs

SCENARIOS = ("stolen-ci-keys", "dormant-user-secrets", "invocation-flood", "recon-sweep")
START = date(2026, 3, 2)


def load(folder: Path) -> pd.DataFrame:
    """Normalize every simulated file under ``folder``."""
    blobs = iter_local_blobs([str(folder / "aws"), str(folder / "gcp")])
    return concat_batches(normalize_blobs(blobs)).events


def flagged(alert: Alert) -> Flagged:
    return Flagged(
        id=alert.id,
        detector=alert.detector,
        rule_id=alert.rule_id,
        account=alert.account,
        principal=alert.principal,
        resource=alert.resource,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        event_ids=frozenset(alert.evidence.event_ids),
    )


def _confirmed(alerts: list[Alert], labels: list[Label], day: date) -> list[Adjustment]:
    """The true-positive verdicts an analyst gives the day's alerts that caught an attack."""
    now = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    made = (
        adjustment_from_alert(a.model_dump(mode="json"), "bench", now, confirmed=True)
        for a in alerts
        if any(matches(flagged(a), label) for label in labels)
    )
    return [m for m in made if m is not None]


def run_seed(
    seed: int, args: argparse.Namespace, work: Path
) -> tuple[list[Alert], list[Label], list[date]]:
    """One seed: train, then score each test day; its alerts, labels and scored days."""
    t0 = time.perf_counter()
    simulate(work / "train", args.train_days, seed, (), start=START, scale=args.scale)
    test_start = START + timedelta(days=args.train_days)
    frames, records = [], []
    for week in range(args.weeks):
        out = work / f"test-{week}"
        first = test_start + timedelta(days=7 * week)
        sim = simulate(out, 7, seed, SCENARIOS, start=first, scale=args.scale)
        # One seed injects the same attack events (same ids) every week: tag each week's ids,
        # or week 1's alerts would "catch" week 2's attacks by their ids.
        tag = f"~w{week}"
        for record in read_labels(sim.labels_path.read_bytes()):
            records.append(record | {"event_ids": [f"{i}{tag}" for i in record["event_ids"]]})
        frame = load(out)
        frames.append(frame.assign(id=frame["id"].astype(str) + tag))
    lake = EventLake(str(work / "lake"))
    lake.append(load(work / "train"))

    def read(a: datetime, b: datetime) -> pd.DataFrame:
        return lake.read(a, b, columns=list(FEATURE_COLUMNS))

    end = test_start - timedelta(days=1)
    model = train(lake_days(read, START, end), TrainConfig(seed=seed))
    trained = time.perf_counter() - t0
    test = pd.concat(frames, ignore_index=True)
    resources = dict(
        zip(test["id"].astype(str), test["resource"].fillna("").astype(str), strict=True)
    )
    labels = [
        Label.from_record(r, (resources.get(str(i), "") for i in r["event_ids"])) for r in records
    ]
    history = model.history
    begin = datetime(START.year, START.month, START.day, tzinfo=UTC)
    changes = read_config_changes(
        str(work / "lake"), begin, begin + timedelta(days=args.train_days)
    )
    alerts: list[Alert] = []
    days: list[date] = []
    confirmed: list[Adjustment] = []
    for day, events in test.groupby(window_start(test["time"], "day"), sort=True):
        changes = pd.concat([changes, config_changes(events)], ignore_index=True)
        scoring = adjust_history(history, confirmed)  # as the job: history, then verdicts
        run = detect_anomalies(events, model, history=scoring, changes=changes)
        alerts.extend(run.alerts)
        history = history.update(events[events["principal"].notna()])
        days.append(pd.Timestamp(day).date())
        if args.confirm:  # the analyst calls each alert that caught an attack a true positive
            confirmed.extend(_confirmed(run.alerts, labels, days[-1]))
    print(
        f"seed {seed}: {len(test)} test events, {len(alerts)} alerts, "
        f"train+simulate {trained:.0f}s, total {time.perf_counter() - t0:.0f}s",
        file=sys.stderr,
    )
    return alerts, labels, days


def pr_curve(alerts: list[Flagged], labels: list[Label]) -> list[tuple[float, float, float, int]]:
    """(minimum score, precision, recall, alerts) as the minimum alert score rises."""
    out = []
    for floor in np.round(np.linspace(0.5, 1.0, 51), 3):
        kept = [a for a in alerts if _scores[a.id] >= floor]
        if not kept:
            break
        card = score_alerts(kept, labels)
        matched = len(kept) - len(card.unmatched)
        out.append((float(floor), matched / len(kept), len(card.caught) / len(labels), len(kept)))
    return out


_scores: dict[str, float] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--train-days", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=2)
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--png", default="docs/img/anomaly-pr.png")
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="an analyst calls each caught attack's alerts true positives the next morning",
    )
    args = parser.parse_args()

    every_alert: list[Flagged] = []
    every_label: list[Label] = []
    per_scenario: dict[str, list[bool]] = defaultdict(list)
    caught_by: dict[str, Counter[str]] = defaultdict(Counter)
    unmatched_days: list[int] = []
    quiet_days: list[int] = []
    unmatched_rules: Counter[str] = Counter()
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="functrail-eval-") as tmp:
            alerts, labels, days = run_seed(seed, args, Path(tmp))
        for alert in alerts:
            _scores[f"{seed}:{alert.id}"] = alert.score
        # ids unique across seeds
        seeded = [Flagged(**{**flagged(a).__dict__, "id": f"{seed}:{a.id}"}) for a in alerts]
        card: Scorecard = score_alerts(seeded, labels)
        for label in labels:
            hit = label.name in card.caught
            per_scenario[label.scenario].append(hit)
            caught_by[label.scenario].update(card.caught.get(label.name, []))
        attacked = {label.start.date() for label in labels}
        per_day = card.unmatched_per_day(days)
        unmatched_days.extend(per_day.values())
        quiet_days.extend(n for d, n in per_day.items() if d not in attacked)
        unmatched_rules.update(a.rule_id for a in card.unmatched)
        titles = {f"{seed}:{a.id}": a.title for a in alerts}
        for stray in card.unmatched:
            print(f"  unmatched {stray.rule_id}: {titles[stray.id][:140]}", file=sys.stderr)
        every_alert.extend(seeded)
        every_label.extend(
            Label(**{**label.__dict__, "scenario": f"{seed}:{label.scenario}"}) for label in labels
        )
        print(f"seed {seed}: caught {len(card.caught)}/{len(labels)}, unmatched per day "
              f"{[per_day[d] for d in days]}")  # fmt: skip

    print("\n| scenario | recall | caught by |")
    print("|---|---:|---|")
    for scenario in SCENARIOS:
        hits = per_scenario[scenario]
        by = ", ".join(f"{r} ({n})" for r, n in caught_by[scenario].most_common())
        print(f"| `{scenario}` | {sum(hits)}/{len(hits)} | {by or '-'} |")
    days_total = len(unmatched_days)
    print(f"\nscored days: {days_total} ({len(quiet_days)} attack-free)")
    print(f"alerts matching no attack per day: mean {np.mean(unmatched_days):.2f}, "
          f"max {max(unmatched_days)}")  # fmt: skip
    if quiet_days:
        print(f"on attack-free days: mean {np.mean(quiet_days):.2f}, max {max(quiet_days)}")
    print(f"unmatched alerts by rule: {dict(unmatched_rules.most_common())}")

    curve = pr_curve(every_alert, every_label)
    print("\n| min score | precision | recall | alerts |")
    print("|---:|---:|---:|---:|")
    shown = {0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95}
    for floor, precision, recall, n in curve:
        if any(abs(floor - s) < 1e-9 for s in shown) or floor == curve[-1][0]:
            print(f"| {floor:.2f} | {precision:.2f} | {recall:.2f} | {n} |")
    detectors = sorted({a.rule_id for a in every_alert})
    alone = {
        d: pr_curve([a for a in every_alert if a.rule_id == d], every_label) for d in detectors
    }
    print("\n| detector alone | alerts | matching an attack | attacks caught |")
    print("|---|---:|---:|---:|")
    for d, c in alone.items():
        if c:
            print(f"| `{d}` | {c[0][3]} | {c[0][1]:.2f} | {c[0][2]:.2f} |")
    plot(curve, alone, len(every_label), Path(args.png), args)


def plot(
    curve: list[tuple[float, float, float, int]],
    alone: dict[str, list[tuple[float, float, float, int]]],
    attacks: int,
    png: Path,
    args: argparse.Namespace,
) -> None:
    """All detectors together as the minimum score rises (left) and each detector alone at
    every score (right: how many attacks it catches, how many of its alerts are attacks)."""
    fig, (ax, side) = plt.subplots(1, 2, figsize=(11, 4.6), width_ratios=[3, 2])
    ax.plot([c[2] for c in curve], [c[1] for c in curve], lw=2, color="black", marker="o", ms=3)
    lines = []
    for floor, p, r, n in curve:
        if any(abs(floor - m) < 1e-9 for m in (0.5, 0.7, 0.8, 0.9, 0.95, 1.0)):
            lines.append(f"score ≥ {floor:.2f}: {n:3d} alerts, precision {p:.2f}, recall {r:.2f}")
    ax.text(0.02, 0.03, "\n".join(lines), transform=ax.transAxes, fontsize=7, family="monospace",
            va="bottom", bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})  # fmt: skip
    ax.set_xlabel("recall (labelled attacks caught)")
    ax.set_ylabel("precision (alerts matching an attack)")
    ax.set_xlim(0, 1.05)
    ax.set_ylim(0, 1.05)
    ax.set_title(
        f"All anomaly detectors, seeds {' '.join(map(str, args.seeds))}: {args.weeks} weeks "
        f"scored after {args.train_days} days (scale {args.scale})",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    names = [n for n, c in alone.items() if c]
    y = np.arange(len(names))
    side.barh(y - 0.2, [alone[n][0][2] for n in names], height=0.4, label="attacks caught")
    side.barh(y + 0.2, [alone[n][0][1] for n in names], height=0.4, label="alerts matching one")
    for i, name in enumerate(names):
        side.text(1.02, i, f"{alone[name][0][3]} alerts", va="center", fontsize=7)
    side.set_yticks(y, names, fontsize=8)
    side.set_xlim(0, 1.3)
    side.set_title(
        f"each detector alone (share of the {attacks} attacks; of its alerts)", fontsize=9
    )
    side.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
