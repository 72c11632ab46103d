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
from models.verdicts import SHOWN_CHARS
from pipelines.features import EarlierWindows, PrincipalHistory, window_start
from pipelines.features.history import entity_frame
from pipelines.features.keys import ENTITY, novelty_codes, principal_class, utc_times

_FEATURE = {"dormancy": "returned after", "new principal": "new principal"}
MAX_SHOWN = SHOWN_CHARS
"""Hostile values (user agents) are shown truncated in explanations."""


def new_values(
    events: pd.DataFrame,
    history: PrincipalHistory,
    window: str,
    earlier: EarlierWindows | None = None,
) -> pd.DataFrame:
    """Each (principal, kind, value) the history (and the run's earlier slices) lack, at its
    first window, with the first event that used it. Deduplicates on integer codes; strings
    only for distinct pairs."""
    ent = entity_frame(events)
    entity = ent.groupby(list(ENTITY), sort=False).ngroup().to_numpy(np.int64)
    order = np.argsort(utc_times(events["time"]).dt.tz_convert(None).to_numpy(), kind="stable")
    win = window_start(events["time"], window).dt.tz_convert(None).to_numpy()
    ids = events["id"].astype("string[pyarrow]").to_numpy(dtype=object)
    parts = []
    for kind, (codes, uniques) in novelty_codes(events).items():
        width = np.int64(len(uniques) + 1)
        _, first = np.unique((entity * width + codes)[order], return_index=True)
        at = order[first]
        values = uniques[codes[at]]
        at, values = at[values != ""], values[values != ""]
        when = pd.Series(win[at], index=ent.index[at]).dt.tz_localize("UTC")
        parts.append(ent.iloc[at].assign(kind=kind, value=values, window=when, id=ids[at]))
    found = pd.concat(parts, ignore_index=True)
    seen = history.seen[[*ENTITY, "kind", "value"]]
    if earlier is not None and len(earlier.seen):
        seen = pd.concat([seen, earlier.seen], ignore_index=True).drop_duplicates()
    if seen.empty:
        return found
    seen = seen.assign(_seen=True)
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


def new_principals(
    features: pd.DataFrame,
    history: PrincipalHistory,
    config: AnomalyConfig,
    earlier: EarlierWindows | None = None,
) -> pd.DataFrame:
    """First windows of principals the history (and the run's earlier slices) never saw, in
    accounts with a settled history.

    The account's own rate of new principals of the same class (IAM user, role, federated
    subject...) discounts the signal: busy accounts onboard pipelines and roles all the time;
    touching secrets or functions makes a newcomer matter more.
    """
    fresh = features[features["history_days"] == 0].drop_duplicates(list(ENTITY))
    if earlier is not None and len(earlier.last_window) and len(fresh):
        fresh = fresh[earlier.before(fresh).isna().to_numpy()]
    past = history.principals
    if fresh.empty or past.empty:
        return pd.DataFrame(
            columns=[*ENTITY, "window", "kind", "value", "id", "rate", "signal", "history_days"]
        )
    group = ["provider", "account", "_class"]
    past = past.assign(_class=principal_class(past["principal"]).to_numpy(dtype=object))
    fresh = fresh.assign(_class=principal_class(fresh["principal"]).to_numpy(dtype=object))
    account_start = past.groupby(["provider", "account"], sort=False)["first_seen"].transform("min")
    days = past.groupby(["provider", "account"], sort=False)["active_days"].max().rename("days")
    late = (
        past.assign(_late=past["first_seen"].dt.floor("D") > account_start.dt.floor("D"))
        .groupby(group, sort=False)["_late"]
        .sum()
        .rename("late")
    )
    fresh = fresh.merge(days.reset_index(), on=["provider", "account"], how="inner")
    fresh = fresh.merge(late.reset_index(), on=group, how="left")
    fresh["late"] = fresh["late"].fillna(0)
    rate: pd.Series = fresh["late"] / np.maximum(fresh["days"] - 1, 1)
    settled = np.minimum(fresh["days"] / config.settle_days, 1.0)
    sensitive = (fresh["secret_reads"] > 0) | (fresh["function_modifications"] > 0)
    return fresh.assign(
        kind="new principal",
        value=np.where(sensitive, "reads secrets or changes functions", "first activity"),
        id=None,
        rate=rate,
        history_days=fresh["days"],
        signal=config.kind_weights["new principal"]
        * settled
        * np.exp(-config.novelty_rate_scale * rate)
        * np.where(sensitive, 1.0, 0.5),
    )


def first_seen_candidates(
    new: pd.DataFrame,
    features: pd.DataFrame,
    history: PrincipalHistory,
    config: AnomalyConfig,
    *,
    min_history_days: int,
    earlier: EarlierWindows | None = None,
) -> pd.DataFrame:
    """Principal-windows whose new values combine to at least the first-seen threshold.

    ``new`` is ``new_values`` of the batch (of every piece of a window cut by time slices);
    ``features`` are all principal-window rows of the batch: those past the cold-start rule
    (``min_history_days``) are checked for new values and dormancy; principals the history has
    never seen are checked as new principals of a settled account.
    """
    columns = [*ENTITY, "window", "score", "explanation", "event_ids"]
    keep = [*ENTITY, "window", "history_days", "days_since_last_seen"]
    scored = features.loc[features["history_days"] >= min_history_days, keep]
    found = new.merge(
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
    newcomers = new_principals(features, history, config, earlier)
    parts = [p[found.columns] for p in (found, back, newcomers) if len(p)]
    if not parts:
        return pd.DataFrame(columns=columns)
    found = pd.concat(parts, ignore_index=True)
    if found.empty:
        return pd.DataFrame(columns=columns)
    found["_keep"] = np.log1p(-np.minimum(found["signal"].to_numpy(np.float64), 0.999))
    grouped = found.groupby([*ENTITY, "window"], sort=True)
    totals = (1.0 - np.exp(grouped["_keep"].sum())).rename("score").reset_index()
    hits = totals[totals["score"] >= config.first_seen_threshold]
    if hits.empty:
        return pd.DataFrame(columns=columns)
    detail = found.merge(hits[[*ENTITY, "window"]], on=[*ENTITY, "window"])
    # ties by kind and value: the order must not depend on how the day was cut into batches
    detail = detail.sort_values(
        ["signal", "kind", "value"], ascending=[False, True, True], kind="stable"
    )
    explained = []
    for _, group in detail.groupby([*ENTITY, "window"], sort=True):
        deviations = [
            Deviation(
                feature=_FEATURE.get(row["kind"], f"new {row['kind']}"),
                observed=str(row["value"])[:MAX_SHOWN],
                baseline=f"{int(row['history_days'])} active days, {row['rate']:.2f} new per day",
                detail=f"weight {row['signal']:.2f}",
            )
            for row in group.head(8).to_dict("records")
        ]
        ids = [str(i) for i in group["id"].dropna().unique()]
        first = group.iloc[0]
        note = config.principal_notes.get(
            (str(first["provider"]), str(first["account"]), str(first["principal"]))
        )
        if note is not None:
            deviations.append(
                Deviation(feature="baseline adjusted", observed="by an analyst", baseline=note)
            )
        explained.append((deviations, ids))
    hits = hits.assign(explanation=[e for e, _ in explained], event_ids=[i for _, i in explained])
    return hits[columns]
