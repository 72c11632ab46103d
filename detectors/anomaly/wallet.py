"""Denial of wallet: a function (or an account's functions together) invoked far above its own
hour-of-week baseline, with the money at stake.

Serverless bills per invocation and per GB-second, so a flood is a cost attack even when the
service holds up. Each alert states the invocations against the series' usual for that hour of
the week (or of the day, while the model has less than two weeks), the function's configured
timeout and memory from its last create / update event, the cost that puts at risk as an
estimate at list price (audit logs do not record durations: the ceiling is every extra call
running to its timeout), and the changes that raised the bill before the flood (timeout to
900 s, memory to 10 GB, reserved concurrency removed).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from detectors.alert import Deviation
from detectors.anomaly.config import AnomalyConfig
from detectors.anomaly.volume import adjusted, floors
from models.baselines import invocation_series
from pipelines.features.functions import config_at, function_name
from pipelines.features.volume import VOLUME_KEYS

PRICES: Final = {
    "aws": (0.0000166667, 0.20, "AWS Lambda x86 $0.0000166667/GB-s + $0.20 per million requests"),
    "gcp": (0.0000025, 0.40, "Cloud Functions/Run memory $0.0000025/GB-s + $0.40 per million"),
}
"""(dollars per GB-second, per million requests, wording): public list prices, first tier."""
COLUMNS: Final = [
    *VOLUME_KEYS, "window", "measure", "observed", "score", "explanation", "members",
]  # fmt: skip


def wallet_candidates(
    counts: pd.DataFrame,
    baseline: pd.DataFrame,
    changes: pd.DataFrame,
    config: AnomalyConfig,
) -> pd.DataFrame:
    """Invocation windows of ``volume_counts`` rows far above their series' hour-of-week
    baseline: per function, and per account when no function of it explains the window.
    ``changes`` are ``config_changes`` up to the windows (timeout, memory, concurrency)."""
    if counts.empty or baseline.empty:
        return pd.DataFrame(columns=COLUMNS)
    series = invocation_series(counts)
    series = series[series["kind"].isin(["function", "account"])]
    if series.empty:
        return pd.DataFrame(columns=COLUMNS)
    series = series.assign(
        hour_of_week=series["window"].dt.day_of_week * 24 + series["window"].dt.hour
    )
    joined = series.merge(baseline, on=[*VOLUME_KEYS, "hour_of_week"], how="inner")
    joined = joined[joined["days"] >= config.wallet_min_days]
    if joined.empty:
        return pd.DataFrame(columns=COLUMNS)
    expected = joined["how_median"].where(joined["how_median"].notna(), joined["hod_median"])
    bar = np.maximum.reduce(
        [
            config.wallet_factor * expected.to_numpy(np.float64),
            config.wallet_peak_factor * joined["hod_max"].to_numpy(np.float64),
            np.full(len(joined), float(config.wallet_min_invocations)),
        ]
    )
    bar = np.maximum(bar, floors(joined, "invocations", config))
    joined = joined.assign(expected=expected, bar=bar)
    observed = joined["events"].to_numpy(np.float64)
    hits = joined[observed >= bar].copy()
    if hits.empty:
        return pd.DataFrame(columns=COLUMNS)
    by_function = hits[hits["kind"] == "function"]
    place = ["provider", "account", "window"]
    covered = set(by_function[place].itertuples(index=False, name=None))
    accounts = hits[hits["kind"] == "account"]
    keep = [k not in covered for k in accounts[place].itertuples(index=False, name=None)]
    hits = pd.concat([by_function, accounts[keep]], ignore_index=True)
    members = _members(counts)
    # priced only where an alert needs it: the hit functions and the functions of hit accounts
    places = set(hits[place].itertuples(index=False, name=None))
    wanted = [p in places for p in joined[place].itertuples(index=False, name=None)]
    priced = joined[np.asarray(wanted, dtype=bool) & (joined["kind"] == "function").to_numpy()]
    costs = _costs(priced, changes)
    rows = []
    cost: _Cost | _Total | None
    for record in hits.to_dict("records"):
        row = {str(k): v for k, v in record.items()}
        if row["kind"] == "function":
            cost = costs.get((row["provider"], row["account"], row["key"], row["window"]))
            found = members.get((row["provider"], row["account"], row["key"]), [])
        else:
            cost = _account_cost(costs, row)
            found = []
        raised = bool(cost and cost.raised)
        ratio = 1.0 - row["bar"] / max(float(row["events"]), 1.0)
        rows.append(
            {
                **{k: row[k] for k in VOLUME_KEYS},
                "window": row["window"],
                "measure": "invocations",
                "observed": float(row["events"]),
                "score": min(0.75 + 0.2 * ratio + (0.05 if raised else 0.0), 1.0),
                "explanation": _explain(row, cost) + adjusted(row, "invocations", config),
                "members": found,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


class _Cost:
    """The estimated cost of one function-window's extra invocations."""

    def __init__(self, row: dict[str, Any], changes: pd.DataFrame) -> None:
        provider, account = str(row["provider"]), str(row["account"])
        end = pd.Timestamp(row["window"]) + pd.Timedelta(hours=1)
        self.config = config_at(changes, provider, account, str(row["key"]), end)
        self.extra = max(float(row["events"]) - float(row["expected"]), 0.0)
        per_gbs, per_million, self.price = PRICES.get(provider, PRICES["aws"])
        self.gb_seconds = self.extra * self.config.timeout_s * self.config.memory_mb / 1024.0
        self.dollars = self.gb_seconds * per_gbs + self.extra * per_million / 1_000_000
        self.raised = self.config.raised


def _costs(
    functions: pd.DataFrame, changes: pd.DataFrame
) -> dict[tuple[object, object, object, object], _Cost]:
    out = {}
    # each function's own configuration events, split once (a day has few of them)
    per_function: dict[tuple[object, ...], pd.DataFrame] = {}
    for key, group in changes.groupby(["provider", "account", "function"], sort=False):
        per_function[tuple(key)] = group
    empty = changes.iloc[0:0]
    for row in functions.to_dict("records"):
        if float(row["events"]) > float(row["expected"]):
            key = (row["provider"], row["account"], row["key"], row["window"])
            own = per_function.get((row["provider"], row["account"], row["key"]), empty)
            out[key] = _Cost({str(k): v for k, v in row.items()}, own)
    return out


class _Total:
    """Costs of an account's functions in one window, summed."""

    def __init__(self, parts: list[_Cost]) -> None:
        self.extra = sum(p.extra for p in parts)
        self.gb_seconds = sum(p.gb_seconds for p in parts)
        self.dollars = sum(p.dollars for p in parts)
        self.price = parts[0].price if parts else PRICES["aws"][2]
        self.raised = tuple(r for p in parts for r in p.raised)
        self.config = None  # several functions: no single configuration


def _account_cost(
    costs: dict[tuple[object, object, object, object], _Cost], row: dict[str, Any]
) -> _Total:
    parts = [
        c
        for (p, a, _, w), c in costs.items()
        if p == row["provider"] and a == row["account"] and w == row["window"]
    ]
    return _Total(parts)


def _members(counts: pd.DataFrame) -> dict[tuple[object, object, object], list[str]]:
    """The ``resource`` values (ARN, path or bare name) each function's short name stands for:
    what evidence is read by."""
    functions = counts.loc[counts["kind"] == "function", ["provider", "account", "key"]]
    functions = functions.drop_duplicates()
    functions = functions.assign(name=function_name(functions["key"]).to_numpy(dtype=object))
    out: dict[tuple[object, object, object], list[str]] = {}
    for row in functions.itertuples(index=False):
        out.setdefault((row.provider, row.account, row.name), []).append(str(row.key))
    return {k: sorted(v) for k, v in out.items()}


def _explain(row: dict[str, Any], cost: _Cost | _Total | None) -> list[Deviation]:
    how = pd.notna(row["how_median"])
    usual = "this hour of the week" if how else "this hour of day"
    out = [
        Deviation(
            feature="invocations per hour",
            observed=float(row["events"]),
            baseline=f"usual {float(row['expected']):.3g} at {usual}, "
            f"highest {float(row['hod_max']):.3g} at this hour over {row['days']} days",
            detail=f"alert bar {float(row['bar']):.3g}",
        )
    ]
    if cost is None:
        return out
    day = cost.dollars * 24
    configured = (
        f"timeout {cost.config.timeout_s:g} s, memory {cost.config.memory_mb:g} MB "
        f"({cost.config.source})"
        if isinstance(cost, _Cost)
        else "sum over the account's flooded functions"
    )
    out.append(
        Deviation(
            feature="estimated cost at risk",
            observed=f"{_money(cost.dollars)} this hour ({cost.gb_seconds:,.0f} GB-s for "
            f"{cost.extra:,.0f} extra calls); {_money(day)} a day at this rate",
            baseline=configured,
            detail=f"estimate at list price ({cost.price}): extra calls x timeout x memory, "
            "every call running to its timeout (audit logs carry no durations)",
        )
    )
    if cost.raised:
        out.append(
            Deviation(
                feature="preceded by bill-raising changes",
                observed="; ".join(cost.raised)[:400],
                baseline="timeout, memory and concurrency as configured before",
            )
        )
    return out


def _money(dollars: float) -> str:
    return f"${dollars:,.2f}" if dollars >= 1 else f"${dollars:.4f}"
