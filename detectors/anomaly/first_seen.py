"""First-seen: a principal using an address, network, agent, region or action family it never
used before, weighted by how settled its history is and how rarely it picks up new values.

A role with 20 days from one address that appears from a new /16 scores high; a CI role whose
runners bring a new address every run has a high novelty rate, so new addresses say little.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from detectors.alert import Deviation
from detectors.anomaly.config import AnomalyConfig
from pipelines.features import NOVELTY_KINDS, PrincipalHistory, window_start
from pipelines.features.history import entity_frame
from pipelines.features.keys import ENTITY, novelty_values

MAX_SHOWN = 120
"""Hostile values (user agents) are shown truncated in explanations."""


def new_values(events: pd.DataFrame, history: PrincipalHistory, window: str) -> pd.DataFrame:
    """Each (principal, kind, value) the history lacks, at its first window, with the first
    event that used it."""
    ent = entity_frame(events)
    order = np.argsort(pd.to_datetime(events["time"], utc=True).to_numpy(), kind="stable")
    ent = ent.iloc[order]
    win = window_start(events["time"], window).iloc[order].to_numpy()
    ids = events["id"].astype("string[pyarrow]").iloc[order].to_numpy(dtype=object)
    parts = []
    values = novelty_values(events)
    for kind in NOVELTY_KINDS:
        part = ent.assign(
            kind=kind, value=values[kind].iloc[order].to_numpy(dtype=object), window=win, id=ids
        )
        part = part[part["value"] != ""].drop_duplicates([*ENTITY, "value"])
        parts.append(part)
    found = pd.concat(parts, ignore_index=True)
    if history.seen.empty:
        return found
    seen = history.seen[[*ENTITY, "kind", "value"]].assign(_seen=True)
    found = found.merge(seen, on=[*ENTITY, "kind", "value"], how="left")
    return found[found["_seen"].isna()].drop(columns="_seen")


def novelty_rates(history: PrincipalHistory) -> pd.DataFrame:
    """Per principal and kind: values first used after the principal's first day, per day."""
    first_day = history.principals[[*ENTITY, "first_seen", "active_days"]].rename(
        columns={"first_seen": "_start"}
    )
    seen = history.seen.merge(first_day, on=list(ENTITY))
    late = seen[seen["first_seen"].dt.floor("D") > seen["_start"].dt.floor("D")]
    counts = late.groupby([*ENTITY, "kind"], sort=False).size().rename("late").reset_index()
    counts = counts.merge(first_day, on=list(ENTITY))
    counts["rate"] = counts["late"] / np.maximum(counts["active_days"] - 1, 1)
    return counts[[*ENTITY, "kind", "rate"]]


def first_seen_candidates(
    events: pd.DataFrame,
    features: pd.DataFrame,
    history: PrincipalHistory,
    config: AnomalyConfig,
    *,
    window: str,
) -> pd.DataFrame:
    """Principal-windows whose new values combine to at least the first-seen threshold.

    ``features`` are the scored (past cold start) principal-window rows; they give each
    principal's active days and the gap since it was last seen (dormancy).
    """
    columns = [*ENTITY, "window", "score", "explanation", "event_ids"]
    scored = features[[*ENTITY, "window", "history_days", "days_since_last_seen"]]
    found = new_values(events, history, window).merge(
        scored.drop(columns="days_since_last_seen"), on=[*ENTITY, "window"], how="inner"
    )
    found = found.merge(novelty_rates(history), on=[*ENTITY, "kind"], how="left")
    found["rate"] = found["rate"].fillna(0.0)
    weights = found["kind"].astype(object).map(config.kind_weights).astype(np.float64).fillna(0.0)
    settled = np.minimum(found["history_days"] / config.settle_days, 1.0)
    found["signal"] = weights * settled * np.exp(-config.novelty_rate_scale * found["rate"])

    dormant = scored[scored["days_since_last_seen"] >= config.dormant_days]
    back = dormant.assign(
        kind="dormancy",
        value=dormant["days_since_last_seen"].round(1).astype(str) + " days",
        id=None,
        rate=0.0,
        signal=config.kind_weights["dormancy"]
        * np.minimum(dormant["days_since_last_seen"] / (2 * config.dormant_days), 1.0),
    )
    found = pd.concat([found, back[found.columns]], ignore_index=True)
    if found.empty:
        return pd.DataFrame(columns=columns)
    found["_keep"] = np.log1p(-np.minimum(found["signal"].to_numpy(np.float64), 0.999))
    grouped = found.groupby([*ENTITY, "window"], sort=True)
    totals = (1.0 - np.exp(grouped["_keep"].sum())).rename("score").reset_index()
    hits = totals[totals["score"] >= config.first_seen_threshold]
    if hits.empty:
        return pd.DataFrame(columns=columns)
    detail = found.merge(hits[[*ENTITY, "window"]], on=[*ENTITY, "window"])
    detail = detail.sort_values("signal", ascending=False)
    explained = []
    for _, group in detail.groupby([*ENTITY, "window"], sort=True):
        deviations = [
            Deviation(
                feature=f"new {row['kind']}" if row["kind"] != "dormancy" else "returned after",
                observed=str(row["value"])[:MAX_SHOWN],
                baseline=f"{int(row['history_days'])} active days, {row['rate']:.2f} new per day",
                detail=f"weight {row['signal']:.2f}",
            )
            for row in group.head(8).to_dict("records")
        ]
        ids = [str(i) for i in group["id"].dropna().unique()]
        explained.append((deviations, ids))
    hits = hits.assign(explanation=[e for e, _ in explained], event_ids=[i for _, i in explained])
    return hits[columns]
