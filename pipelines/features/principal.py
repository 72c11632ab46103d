"""Behavioural features per principal and time window, vectorized over a batch of events.

One row per (provider, account, principal, window). Counts and shares come from integer group
codes and ``np.bincount``; novelty features compare the batch against a ``PrincipalHistory``
(the principal's own past), so a value counts as new only in the first window it appears in.
The feature table in docs/anomaly.md documents every column.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from pipelines.features.history import PrincipalHistory, entity_frame
from pipelines.features.keys import (
    ENTITY,
    FUNCTION_SERVICES,
    IAM_SERVICES,
    LOGGING_SERVICES,
    SECRET_READS,
    novelty_codes,
    utc_times,
)

if TYPE_CHECKING:
    from pipelines.features.earlier import EarlierWindows

WINDOWS: Final = {"hour": "1h", "day": "1D"}

ACTIVITY_FEATURES: Final = (
    "event_count",
    "distinct_actions",
    "distinct_resources",
    "distinct_services",
    "error_share",
    "write_share",
    "function_modifications",
    "secret_reads",
    "distinct_source_ips",
    "distinct_user_agents",
    "distinct_regions",
    "off_hours_share",
)
NOVELTY_FEATURES: Final = (
    "new_actions",
    "new_action_families",
    "new_source_ips",
    "new_networks",
    "new_wide_networks",
    "new_user_agents",
    "new_regions",
    "days_since_last_seen",
)
PRINCIPAL_FEATURES: Final = ACTIVITY_FEATURES + NOVELTY_FEATURES
CONTEXT_COLUMNS: Final = ("iam_changes", "logging_changes")
"""Carried beside the features for the detectors that read them (dormant identities: what a
returning principal did), not forest inputs: a model's feature list stays as trained."""
_NEW_COLUMN: Final = {
    "action": "new_actions",
    "action_family": "new_action_families",
    "source_ip": "new_source_ips",
    "network": "new_networks",
    "wide_network": "new_wide_networks",
    "user_agent": "new_user_agents",
    "region": "new_regions",
}

USUAL_HOUR_SHARE: Final = 1 / 48
"""An hour holding less than half of a uniform share of a principal's past events is unusual."""
MIN_EVENTS_FOR_HOURS: Final = 48
"""Below this many past events a principal has no usual hours yet (off_hours_share = 0)."""


def window_start(time: pd.Series, window: str) -> pd.Series:
    """The start of the window (``hour`` or ``day``) each timestamp falls in, UTC."""
    return utc_times(time).dt.floor(WINDOWS[window])


def _distinct_per_group(
    gid: np.ndarray, values: pd.Series, groups: int, keep: np.ndarray
) -> tuple[np.ndarray, list[frozenset[str] | None]]:
    """Distinct non-null values per group; the values themselves for the groups in ``keep``."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    known = codes >= 0
    width = int(codes.max(initial=-1)) + 2
    pairs = np.unique(gid[known].astype(np.int64) * width + codes[known])
    group, code = pairs // width, pairs % width
    sets: list[frozenset[str] | None] = [None] * groups
    if keep.any():
        kept = keep[group]
        text = np.asarray(uniques, dtype=object)
        for g in np.flatnonzero(keep):
            sets[g] = frozenset()
        for g, codes_of in pd.Series(code[kept]).groupby(group[kept]):
            sets[int(g)] = frozenset(str(v) for v in text[codes_of.to_numpy()])
    return np.bincount(group, minlength=groups), sets


_SUMMED: Final = (
    "event_count",
    "_errors",
    "_writes",
    "function_modifications",
    "secret_reads",
    *CONTEXT_COLUMNS,
    "_off_hours",
    *_NEW_COLUMN.values(),
)
"""Partial aggregates that add up over the pieces of a principal-window."""
_DISTINCT: Final = {
    "distinct_actions": "action",
    "distinct_resources": "resource",
    "distinct_services": "service",
    "distinct_source_ips": "source_ip",
    "distinct_user_agents": "user_agent",
    "distinct_regions": "region",
}
"""Distinct counts, and the event column each counts: value sets unite over pieces."""
_SHARES: Final = {
    "error_share": "_errors",
    "write_share": "_writes",
    "off_hours_share": "_off_hours",
}
_SAME: Final = ("days_since_last_seen", "history_days")
"""Equal on every piece of a window (recency counts from the window before it)."""


def principal_features(
    events: pd.DataFrame,
    history: PrincipalHistory | None = None,
    *,
    window: str = "hour",
    earlier: EarlierWindows | None = None,
) -> pd.DataFrame:
    """Feature rows per principal-window, with ``history_days`` (cold start) beside the features.

    ``history`` is the principals' past before this batch; without one every value is new and
    every principal has zero history days. ``earlier``: this batch is a later time slice of one
    run; what the earlier slices saw, so each row equals the one-batch row.
    """
    return finish_features(window_aggregates(events, history, window=window, earlier=earlier))


def window_aggregates(
    events: pd.DataFrame,
    history: PrincipalHistory | None = None,
    *,
    window: str = "hour",
    earlier: EarlierWindows | None = None,
    cut: Collection[pd.Timestamp] = (),
) -> pd.DataFrame:
    """Per principal-window, what its features are computed from: counts and sums, distinct
    counts, recency. For a window in ``cut`` (a time slice ends inside it) also the distinct
    values (``values:<feature>``, frozensets), so ``combine_aggregates`` can add the pieces of
    that window (each computed with ``earlier`` holding the pieces before it) exactly."""
    history = history if history is not None else PrincipalHistory.empty()
    ent = entity_frame(events)
    win = window_start(events["time"], window)
    keyed = ent.assign(window=win, time_hour=window_start(events["time"], "hour").dt.hour)
    gid_series = keyed.groupby([*ENTITY, "window"], sort=True).ngroup()
    gid = gid_series.to_numpy()
    rows = keyed.drop_duplicates([*ENTITY, "window"]).assign(_gid=gid_series)
    rows = rows.sort_values("_gid").set_index("_gid")
    n = len(rows)
    out = rows.reset_index(drop=True)

    failed = (events["outcome"].astype("string[pyarrow]") == "failure").fillna(False).to_numpy(bool)
    write = (~events["read_only"].astype("boolean").fillna(True)).to_numpy(bool)
    service = events["service"].astype("string[pyarrow]")
    function_mod = (
        (
            (events["category"].astype("string[pyarrow]") == "modification")
            & service.isin(FUNCTION_SERVICES)
        )
        .fillna(False)
        .to_numpy(bool)
    )
    secret = events["action"].astype("string[pyarrow]").isin(SECRET_READS).fillna(False)
    iam = (service.isin(IAM_SERVICES).fillna(False).to_numpy(bool)) & write
    logging = (service.isin(LOGGING_SERVICES).fillna(False).to_numpy(bool)) & write

    out["event_count"] = np.bincount(gid, minlength=n).astype(np.float64)
    out["_errors"] = np.bincount(gid, weights=failed, minlength=n)
    out["_writes"] = np.bincount(gid, weights=write, minlength=n)
    out["function_modifications"] = np.bincount(gid, weights=function_mod, minlength=n)
    out["secret_reads"] = np.bincount(gid, weights=secret.to_numpy(bool), minlength=n)
    out["iam_changes"] = np.bincount(gid, weights=iam, minlength=n)
    out["logging_changes"] = np.bincount(gid, weights=logging, minlength=n)
    out["_off_hours"] = _off_hours_share(keyed, gid, n, history)
    keep = out["window"].isin(list(cut)).to_numpy(bool)
    for name, column in _DISTINCT.items():
        counts, sets = _distinct_per_group(gid, events[column], n, keep)
        out[name] = counts
        out[f"values:{name}"] = pd.Series(sets, index=out.index, dtype=object)

    entity_of_group = out.groupby(list(ENTITY), sort=False).ngroup().to_numpy()
    for kind, (codes, uniques) in novelty_codes(events).items():
        out[_NEW_COLUMN[kind]] = _new_values(
            out, entity_of_group, gid, codes, uniques, kind, history, earlier
        )
    return _recency(out, history, earlier).drop(columns="time_hour")


def combine_aggregates(pieces: pd.DataFrame) -> pd.DataFrame:
    """One row per principal-window of ``window_aggregates`` rows of its pieces (in time order,
    each with the values of its distinct counts): sums add, value sets unite."""
    grouped = pieces.groupby([*ENTITY, "window"], sort=True)
    out = grouped[list(_SUMMED)].sum()
    for name in _SAME:
        out[name] = grouped[name].first()
    for name in _DISTINCT:
        united = grouped[f"values:{name}"].apply(_union)
        out[f"values:{name}"] = united
        out[name] = united.map(len)
    return out.reset_index()


def _union(sets: pd.Series) -> frozenset[str]:
    return frozenset().union(*sets)


def finish_features(aggregates: pd.DataFrame) -> pd.DataFrame:
    """Feature rows (the model's columns) of ``window_aggregates`` or ``combine_aggregates``."""
    out = aggregates.copy()
    for share, count in _SHARES.items():
        out[share] = out[count] / out["event_count"]
    for name in (*PRINCIPAL_FEATURES, *CONTEXT_COLUMNS):
        out[name] = out[name].astype(np.float64)
    out["history_days"] = out["history_days"].astype("int64")
    return out[[*ENTITY, "window", *PRINCIPAL_FEATURES, "history_days", *CONTEXT_COLUMNS]]


def _off_hours_share(
    keyed: pd.DataFrame, gid: np.ndarray, n: int, history: PrincipalHistory
) -> np.ndarray:
    """Events per group that fall in hours the principal rarely used before."""
    if history.hours.empty:
        return np.zeros(n)
    hours = history.hours
    total = hours.groupby(list(ENTITY), sort=False)["events"].transform("sum")
    rare = hours[(total >= MIN_EVENTS_FOR_HOURS) & (hours["events"] < USUAL_HOUR_SHARE * total)]
    settled = hours.loc[total >= MIN_EVENTS_FOR_HOURS, list(ENTITY)].drop_duplicates()
    per_hour = (
        keyed.assign(_gid=gid, hour=keyed["time_hour"])
        .groupby(["_gid", *ENTITY, "hour"], sort=False)
        .size()
        .rename("events")
        .reset_index()
    )
    per_hour = per_hour.merge(settled, on=list(ENTITY), how="inner")
    # An hour absent from a settled principal's histogram is as unusual as a rare one.
    usual = hours.loc[~hours.index.isin(rare.index), [*ENTITY, "hour"]].assign(_usual=True)
    per_hour = per_hour.merge(usual, on=[*ENTITY, "hour"], how="left")
    odd = per_hour[per_hour["_usual"].isna()]
    return np.bincount(odd["_gid"].to_numpy(np.int64), weights=odd["events"], minlength=n)


def _new_values(
    rows: pd.DataFrame,
    entity_of_group: np.ndarray,
    gid: np.ndarray,
    codes: np.ndarray,
    uniques: np.ndarray,
    kind: str,
    history: PrincipalHistory,
    earlier: EarlierWindows | None,
) -> np.ndarray:
    """Distinct values per group that the principal never used before this window.

    Works on integer codes until only distinct (principal, value) pairs remain; the first
    window of the batch using a value is the one that counts it as new.
    """
    n = len(rows)
    width = np.int64(len(uniques) + 1)
    pairs = np.unique(gid.astype(np.int64) * width + codes)
    group, code = pairs // width, pairs % width
    # Groups are numbered in (entity, window) order, so the first pair of an entity and value
    # is its earliest window.
    _, first = np.unique(entity_of_group[group].astype(np.int64) * width + code, return_index=True)
    group, code = group[first], code[first]
    values = uniques[code]
    keep = values != ""
    group, values = group[keep], values[keep]
    seen = history.seen.loc[history.seen["kind"] == kind, [*ENTITY, "value"]]
    if earlier is not None and len(earlier.seen):
        seen = pd.concat([seen, earlier.seen_of(kind)], ignore_index=True)
    if not seen.empty and len(group):
        found = rows.iloc[group][list(ENTITY)].assign(value=values, _group=group)
        found = found.merge(seen.assign(_seen=True), on=[*ENTITY, "value"], how="left")
        group = found.loc[found["_seen"].isna(), "_group"].to_numpy(np.int64)
    return np.bincount(group, minlength=n)


def _recency(
    out: pd.DataFrame, history: PrincipalHistory, earlier: EarlierWindows | None
) -> pd.DataFrame:
    """Days since the principal's previous activity (earlier window, a window of an earlier
    slice, or history; not an earlier piece of the same window); history days."""
    past = history.principals[[*ENTITY, "last_seen", "active_days"]]
    out = out.merge(past, on=list(ENTITY), how="left")
    previous = out.groupby(list(ENTITY), sort=False)["window"].shift(1)
    if earlier is not None and len(earlier.last_window):
        previous = previous.where(previous.notna(), earlier.before(out))
    last = previous.where(previous.notna(), out["last_seen"])
    gap = (out["window"] - last).dt.total_seconds() / 86400.0
    out["days_since_last_seen"] = gap.clip(lower=0.0).fillna(0.0)
    out["history_days"] = out.pop("active_days").fillna(0).astype("int64")
    return out.drop(columns="last_seen")
