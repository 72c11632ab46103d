"""Dormant identities: a principal silent for days that comes back and does something that
matters (reads secrets, changes IAM, function code or logging) or calls from an address or tool
it never used.

Forgotten users and old keys are what attackers find in leaked dumps; the owner is gone, so no
one notices the key waking up. Silence is measured against the principal's history as moved on
by each scored day (``models.day_summaries``). A principal the history never saw, in an account
watched for ``dormant_unseen_watch_days``, was silent at least that whole span: if its first
window touches something sensitive, it is a dormant identity too (the key existed, unused,
before the watch began); its explanation says "never seen in the N days watched", no more.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from detectors.alert import Deviation
from detectors.anomaly.config import AnomalyConfig
from detectors.anomaly.first_seen import novelty_rates
from pipelines.features import EarlierWindows, PrincipalHistory
from pipelines.features.keys import ENTITY

SENSITIVE: dict[str, str] = {
    "secret_reads": "secret reads",
    "iam_changes": "IAM changes",
    "function_modifications": "function changes",
    "logging_changes": "logging changes",
}
"""Feature columns counting what a returning identity did that matters, and their wording."""
NEW_CONTEXT: dict[str, str] = {
    "source_ip": "new address",
    "network": "new network",
    "user_agent": "new tool",
}
"""New-value kinds that, on return, say the caller may not be the owner."""
MAX_SHOWN = 120
COLUMNS = [*ENTITY, "window", "score", "explanation", "event_ids"]


def dormant_candidates(
    features: pd.DataFrame,
    new: pd.DataFrame,
    history: PrincipalHistory,
    config: AnomalyConfig,
    earlier: EarlierWindows | None = None,
) -> pd.DataFrame:
    """Principal-windows of a return from silence with sensitive actions or a new address or
    tool (known principals), or with sensitive actions (principals never seen)."""
    back = returns(features, history, config, earlier)
    if back.empty:
        return pd.DataFrame(columns=COLUMNS)
    sensitive = back[list(SENSITIVE)].sum(axis=1).to_numpy(np.float64) > 0
    context = _new_context(back, new, history, config)
    known = back["history_days"].to_numpy() > 0
    # A person back from two weeks off on a new home address is common: a new address or tool
    # alone alerts only after a longer silence (dormant_quiet_factor x dormant_days).
    long = (
        back["silent_days"].to_numpy(np.float64)
        >= config.dormant_quiet_factor * config.dormant_days
    )
    alert = sensitive | (known & long & (context.str.len() > 0).to_numpy(bool))
    back = back.assign(_context=context)[alert]
    if back.empty:
        return pd.DataFrame(columns=COLUMNS)
    sens = sensitive[alert]
    # Longer silence and a sensitive return weigh more; 0.7 (medium) at the bar, 0.9+ (high)
    # once the return touches secrets, IAM, code or logging.
    length = np.minimum(back["silent_days"].to_numpy(np.float64) / (4 * config.dormant_days), 1.0)
    back["score"] = np.where(sens, 0.9, 0.7) + 0.09 * length
    explained = [
        _explain({str(k): v for k, v in row.items()}, config) for row in back.to_dict("records")
    ]
    back = back.assign(explanation=pd.Series(explained, index=back.index, dtype=object))
    back["event_ids"] = None
    return back[COLUMNS].reset_index(drop=True)


def returns(
    features: pd.DataFrame,
    history: PrincipalHistory,
    config: AnomalyConfig,
    earlier: EarlierWindows | None = None,
) -> pd.DataFrame:
    """Feature rows of principals back from at least ``dormant_days`` of silence (their first
    window back), with ``silent_days``, ``last_seen`` (NaT: never seen) and ``watched_days``."""
    past = history.principals
    known = features[
        (features["history_days"] > 0) & (features["days_since_last_seen"] >= config.dormant_days)
    ]
    known = known.merge(past[[*ENTITY, "last_seen"]], on=list(ENTITY), how="left")
    known = known.assign(silent_days=known["days_since_last_seen"], watched_days=np.nan)
    fresh = features[features["history_days"] == 0].drop_duplicates(list(ENTITY))
    if earlier is not None and len(earlier.last_window) and len(fresh):
        fresh = fresh[earlier.before(fresh).isna().to_numpy()]
    if len(fresh) and len(past):
        start = past.groupby(["provider", "account"], sort=False)["first_seen"].min()
        fresh = fresh.merge(start.rename("_watch").reset_index(), on=["provider", "account"])
        watched = (fresh["window"] - fresh.pop("_watch")).dt.total_seconds() / 86400.0
        fresh = fresh.assign(silent_days=watched, watched_days=watched, last_seen=_never(fresh))
        fresh = fresh[fresh["watched_days"] >= config.dormant_unseen_watch_days]
    else:
        fresh = fresh.iloc[0:0]
        fresh = fresh.assign(silent_days=[], watched_days=[], last_seen=_never(fresh))
    parts = [p for p in (known, fresh) if len(p)]
    if not parts:
        return known.iloc[0:0]
    return pd.concat(parts, ignore_index=True)


def _never(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")


def _new_context(
    back: pd.DataFrame, new: pd.DataFrame, history: PrincipalHistory, config: AnomalyConfig
) -> pd.Series:
    """Per row of ``back``: "new address 203.0.113.9; new tool python-requests" or "". Kinds
    the principal picks up new values of routinely (CI identities: a new runner address each
    run, ``novelty_rates`` ≥ ``dormant_routine_rate`` a day) say nothing on return."""
    empty = pd.Series([""] * len(back), index=back.index, dtype=object)
    if new.empty:
        return empty
    wanted = new[new["kind"].isin(list(NEW_CONTEXT))]
    if len(wanted) and len(history.seen):
        rates = novelty_rates(history)
        wanted = wanted.merge(rates, on=[*ENTITY, "kind"], how="left")
        wanted = wanted[wanted["rate"].fillna(0.0) < config.dormant_routine_rate]
    if wanted.empty:
        return empty
    wanted = wanted.assign(
        _text=wanted["kind"].map(NEW_CONTEXT) + " " + wanted["value"].astype(str).str[:MAX_SHOWN]
    )
    joined = (
        wanted.sort_values(["kind", "value"], kind="stable")
        .groupby([*ENTITY, "window"], sort=False)["_text"]
        .agg("; ".join)
        .rename("_joined")
        .reset_index()
    )
    out = back[[*ENTITY, "window"]].merge(joined, on=[*ENTITY, "window"], how="left")
    return pd.Series(out["_joined"].fillna("").to_numpy(dtype=object), index=back.index)


def _explain(row: dict[str, Any], config: AnomalyConfig) -> list[Deviation]:
    """How long it slept, what it did on return, from where."""
    silent = float(row["silent_days"])
    last = row["last_seen"]
    if last is None or pd.isna(last):
        slept = Deviation(
            feature="silent for",
            observed=f"at least {silent:.1f} days",
            baseline=f"never seen in the {silent:.1f} days this account has been watched",
            detail="an unseen identity counts as dormant after "
            f"{config.dormant_unseen_watch_days:g} days of watch",
        )
    else:
        stamp = pd.Timestamp(last).strftime("%Y-%m-%d %H:%M UTC")
        slept = Deviation(
            feature="silent for",
            observed=f"{silent:.1f} days",
            baseline=f"last seen {stamp}; {int(row['history_days'])} active days before",
            detail=f"dormant after {config.dormant_days:g} days",
        )
    did = [f"{int(row[c])} {label}" for c, label in SENSITIVE.items() if float(row[c]) > 0]
    on_return = Deviation(
        feature="on return",
        observed=", ".join(did) if did else f"{int(row['event_count'])} calls",
        baseline="nothing during the silence",
        detail=f"{int(row['event_count'])} calls, "
        f"{int(row['distinct_actions'])} distinct actions in the window",
    )
    out = [slept, on_return]
    if row["_context"]:
        out.append(
            Deviation(
                feature="from",
                observed=str(row["_context"]),
                baseline="addresses and tools of its history",
            )
        )
    return out
