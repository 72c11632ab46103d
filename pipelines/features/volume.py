"""Counts per (account, action) and per function per window: the series volume baselines watch.

Both clouds alike: an action is the normalized ``action``; a function is the ``resource`` of an
invocation event (Lambda ``Invoke``, Cloud Functions ``CallFunction``, Cloud Run requests).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from pipelines.features.principal import window_start

VOLUME_KEYS: Final = ("provider", "account", "kind", "key")
"""A volume series: ``kind`` is ``action``, ``function`` or ``principal``, ``key`` its action,
function or principal (principals' series feed error-rate baselines only)."""


def volume_counts(events: pd.DataFrame, *, window: str = "hour") -> pd.DataFrame:
    """Events and failures per series and window (only windows with events appear)."""
    text = {
        c: events[c].astype("string[pyarrow]").fillna("").to_numpy(dtype=object)
        for c in ("provider", "account", "action", "resource", "category")
    }
    principal = (
        events["principal"].astype("string[pyarrow]").fillna("").to_numpy(dtype=object)
        if "principal" in events.columns
        else np.full(len(events), "", dtype=object)
    )
    failed = (events["outcome"].astype("string[pyarrow]") == "failure").fillna(False)
    base = pd.DataFrame(
        {
            "provider": text["provider"],
            "account": text["account"],
            "window": window_start(events["time"], window).array,
            "failed": failed.to_numpy(bool).astype(np.int64),
        }
    )
    actions = base.assign(kind="action", key=text["action"])
    invoked = text["category"] == "invocation"
    functions = base[invoked].assign(kind="function", key=text["resource"][invoked])
    callers = base.assign(kind="principal", key=principal)
    both = pd.concat([actions, functions, callers], ignore_index=True)
    both = both[both["key"] != ""]
    counts = (
        both.groupby([*VOLUME_KEYS, "window"], sort=True)
        .agg(events=("failed", "size"), errors=("failed", "sum"))
        .reset_index()
    )
    return counts.astype({"events": "int64", "errors": "int64"})


def add_volume_counts(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """``volume_counts`` of disjoint batches of one run summed: the counts of their union (the
    same rows, in the same order, as one call over all of it)."""
    kept = [p for p in parts if len(p)]
    if len(kept) == 1:
        return kept[0]
    if not kept:
        return volume_counts(pd.DataFrame(columns=_COLUMNS))
    return (
        pd.concat(kept, ignore_index=True)
        .groupby([*VOLUME_KEYS, "window"], sort=True)[["events", "errors"]]
        .sum()
        .reset_index()
        .astype({"events": "int64", "errors": "int64"})
    )


_COLUMNS = ("provider", "account", "action", "resource", "category", "outcome", "time")


def function_features(events: pd.DataFrame, *, window: str = "hour") -> pd.DataFrame:
    """Per function and window: invocation count and error share."""
    counts = volume_counts(events, window=window)
    functions = counts[counts["kind"] == "function"].rename(
        columns={"key": "function", "events": "invocations"}
    )
    functions = functions.assign(error_share=functions["errors"] / functions["invocations"])
    return functions[["provider", "account", "function", "window", "invocations", "error_share"]]
