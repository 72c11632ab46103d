"""Evaluate and time the anomaly detectors on simulated history.

Evaluation: simulate ``--train-days`` of attack-free traffic (into an event lake), train on it,
then simulate ``--test-days`` more of the same organization with the four anomaly scenarios
injected, score them day by day (moving the principal history on as the daily job does), and
report per scenario caught/missed and stray alerts per day; write a PNG of scores over time.

Speed: tile one simulated day up to ``--speed-events`` events (more principals, same shape)
and time feature extraction + scoring against the simplest pandas alternative.

    python bench/anomaly.py --train-days 10 --test-days 7 --seed 1 --speed-events 1000000
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import orjson
import pandas as pd

from detectors.alert import Alert
from detectors.anomaly import detect_anomalies
from models.bundle import TrainConfig
from models.train import lake_days, train
from pipelines.features import (
    FEATURE_COLUMNS,
    PrincipalHistory,
    principal_features,
    window_start,
)
from pipelines.lake import EventLake
from pipelines.normalize import concat_batches, normalize_blobs
from pipelines.simulate import simulate
from pipelines.sources.local import iter_local_blobs

SCENARIOS = ("stolen-ci-keys", "dormant-user-secrets", "invocation-flood", "recon-sweep")
START = date(2026, 3, 2)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(folder: Path) -> pd.DataFrame:
    """Normalize every simulated file under ``folder``."""
    batch = concat_batches(
        normalize_blobs(iter_local_blobs([str(folder / "aws"), str(folder / "gcp")]))
    )
    return batch.events


def days_of(events: pd.DataFrame) -> list[tuple[date, pd.DataFrame]]:
    day = window_start(events["time"], "day")
    return [(k.date(), g) for k, g in events.groupby(day, sort=True)]


def matches(alert: Alert, label: dict[str, Any]) -> bool:
    """An alert catches a label when it cites one of its events, or names its principal
    within the attack's time span (an hour of slack either side)."""
    ids = set(label["event_ids"])
    if ids & set(alert.evidence.event_ids):
        return True
    start = datetime.fromisoformat(str(label["start"]).replace("Z", "+00:00")) - timedelta(hours=1)
    end = datetime.fromisoformat(str(label["end"]).replace("Z", "+00:00")) + timedelta(hours=1)
    same = alert.principal == label["principal"]
    return same and alert.first_seen <= end and alert.last_seen >= start


def evaluate(args: argparse.Namespace, work: Path) -> None:
    t0 = time.perf_counter()
    simulate(work / "train", args.train_days, args.seed, (), start=START, scale=args.scale)
    test_start = START + timedelta(days=args.train_days)
    sim = simulate(
        work / "test", args.test_days, args.seed, SCENARIOS, start=test_start, scale=args.scale
    )
    labels = [orjson.loads(line) for line in sim.labels_path.read_bytes().splitlines()]
    print(f"simulated in {time.perf_counter() - t0:.1f}s", file=sys.stderr)

    lake = EventLake(str(work / "lake"))
    lake.append(load(work / "train"))
    end = test_start - timedelta(days=1)

    def read(a: datetime, b: datetime) -> pd.DataFrame:
        return lake.read(a, b, columns=list(FEATURE_COLUMNS))

    t0 = time.perf_counter()
    model = train(lake_days(read, START, end), TrainConfig(seed=args.seed))
    print(
        f"trained on {model.manifest['training_events']} events, "
        f"{model.manifest['training_windows']} windows in {time.perf_counter() - t0:.1f}s; "
        f"forest threshold {model.forest.threshold:.4f}",
        file=sys.stderr,
    )

    history = model.history
    alerts: list[Alert] = []
    curve = []
    for day, events in days_of(load(work / "test")):
        run = detect_anomalies(events, model, history=history)
        features = principal_features(events, history, window=model.config.window)
        scored = features[features["history_days"] >= model.config.min_history_days]
        hourly = scored.assign(score=model.forest.scores(scored)).groupby("window")["score"].max()
        curve.append(hourly)
        alerts.extend(run.alerts)
        history = history.update(events)
        print(f"{day}: {len(run.alerts)} alerts {run.candidates} held back {run.held_back}")

    caught: dict[str, list[str]] = {}
    used: set[str] = set()
    for label in labels:
        hits = [a for a in alerts if matches(a, label)]
        used |= {a.id for a in hits}
        caught[str(label["scenario"])] = sorted({a.rule_id for a in hits})
    strays = [a for a in alerts if a.id not in used]
    per_day = Counter(a.first_seen.date() for a in strays)
    print("\nscenario               caught by")
    for scenario, by in caught.items():
        print(f"{scenario:22s} {'CAUGHT ' + ','.join(by) if by else 'MISSED'}")
    print(f"\nstray alerts per day: {dict(sorted((str(k), v) for k, v in per_day.items()))}")
    print(f"stray alerts total: {len(strays)} over {args.test_days} days")
    for a in strays:
        print(f"  stray {a.rule_id:16s} {a.score:.3f} {a.title[:110]}")
    plot(pd.concat(curve), alerts, labels, model.forest.threshold, Path(args.png))


def plot(
    curve: pd.Series,
    alerts: list[Alert],
    labels: list[dict[str, Any]],
    threshold: float,
    png: Path,
) -> None:
    fig, ax = plt.subplots(figsize=(11, 4))

    def rarity(score: np.ndarray | list[float]) -> np.ndarray:
        # 1 - CDF on a log scale: 3 means "1 in 1000 training windows is this strange".
        return -np.log10(np.clip(1.0 - np.asarray(score, dtype=np.float64), 1e-5, 1.0))

    x = pd.DatetimeIndex(curve.index).tz_convert(None)
    ax.plot(x, rarity(curve.to_numpy()), lw=0.8, color="tab:blue", label="forest, max per hour")
    ax.axhline(rarity([threshold])[0], color="tab:blue", ls=":", lw=0.8, label="forest threshold")
    for rule, color in (("first-seen", "tab:orange"), ("volume", "tab:green")):
        pts = [a for a in alerts if a.rule_id == rule]
        ax.scatter(
            mdates.date2num([a.first_seen.replace(tzinfo=None) for a in pts]),
            rarity([a.score for a in pts]),
            s=22, color=color, label=f"{rule} alerts", zorder=3,
        )  # fmt: skip
    for label in labels:
        start = datetime.fromisoformat(str(label["start"]).replace("Z", "+00:00"))
        t = float(mdates.date2num(start.replace(tzinfo=None)))
        ax.axvline(t, color="tab:red", lw=1, alpha=0.7)
        name = str(label["scenario"])
        ax.text(t, 0.1, name, rotation=90, fontsize=7, color="tab:red", va="bottom")
    ax.set_ylim(0, 5.2)
    ax.set_ylabel("-log10(1 - calibrated score)")
    ax.set_title("Anomaly scores over the scored days (red: injected attacks)")
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


def tile(day: pd.DataFrame, target: int) -> pd.DataFrame:
    """Copies of a day, each copy a different set of principals, up to ``target`` events."""
    copies = max(1, -(-target // len(day)))
    parts = []
    for k in range(copies):
        part = day.copy()
        part["id"] = part["id"].astype(str) + f"~{k}"
        part["principal"] = part["principal"].astype(str) + f"#{k}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True).head(target)


def naive_features(events: pd.DataFrame) -> pd.DataFrame:
    """The simplest alternative: one pandas groupby/agg with nunique on the string columns."""
    frame = events.assign(window=window_start(events["time"], "hour"))
    return frame.groupby(["provider", "account", "principal", "window"]).agg(
        event_count=("id", "size"),
        distinct_actions=("action", "nunique"),
        distinct_resources=("resource", "nunique"),
        distinct_services=("service", "nunique"),
        distinct_source_ips=("source_ip", "nunique"),
        distinct_user_agents=("user_agent", "nunique"),
        distinct_regions=("region", "nunique"),
    )


def speed(args: argparse.Namespace, work: Path) -> None:
    simulate(work / "speed", 6, args.seed, (), start=START, scale=args.scale)
    days = days_of(load(work / "speed"))
    model = train((d for _, d in days[:5]), TrainConfig(seed=args.seed, trees=100))
    history = model.history
    day = tile(days[5][1], args.speed_events)
    # The tiled principals need a past too: give each copy the history of the original.
    tiled_hist = []
    copies = day["principal"].str.rsplit("#", n=1).str[-1].unique()
    for table in (history.principals, history.seen, history.hours):
        tiled_hist.append(
            pd.concat([table.assign(principal=table["principal"] + f"#{k}") for k in copies])
        )
    history = PrincipalHistory(*tiled_hist)
    gc.collect()
    print(f"\nspeed: one day of {len(day)} events, {day['principal'].nunique()} principals")
    t0 = time.perf_counter()
    naive = naive_features(day)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    feats = principal_features(day, history)
    t_feat = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = detect_anomalies(day, model, history=history)
    t_all = time.perf_counter() - t0
    rate = len(day) / t_feat
    print(f"naive pandas groupby/nunique (7 activity features): {t_naive:.2f}s "
          f"({len(day) / t_naive:,.0f} events/s, {len(naive)} windows)")  # fmt: skip
    print(f"principal_features (20 features incl. novelty):     {t_feat:.2f}s "
          f"({rate:,.0f} events/s, {len(feats)} windows)")  # fmt: skip
    print(f"detect_anomalies (features + forest + first-seen + volume + alerts): {t_all:.2f}s "
          f"({len(day) / t_all:,.0f} events/s, {len(run.alerts)} alerts)")  # fmt: skip
    print(f"peak RSS {peak_mib():,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-days", type=int, default=10)
    parser.add_argument("--test-days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--png", default="docs/img/anomaly-scores.png")
    parser.add_argument("--speed-events", type=int, default=0, help="0 skips the speed run")
    parser.add_argument("--no-eval", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="functrail-bench-") as tmp:
        if not args.no_eval:
            evaluate(args, Path(tmp))
        if args.speed_events:
            speed(args, Path(tmp))


if __name__ == "__main__":
    main()
