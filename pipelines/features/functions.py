"""Serverless functions' configuration as the audit log tells it: timeout, memory, concurrency.

Denial of wallet is a cost question: a flood of invocations costs invocations x duration x
memory, and an attacker who first raises the timeout to 900 s and the memory to 10 GB, or
removes the reserved concurrency that capped the damage, multiplies it. The last create or
update event of each function in the lake gives its configuration; the changes before a flood
say whether someone prepared it. Only the few configuration events are decoded (``raw``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import orjson
import pandas as pd
import pyarrow.dataset as ds

from pipelines.features.keys import utc_times

CONFIG_ACTIONS: Final = frozenset(
    {
        "CreateFunction",
        "UpdateFunctionConfiguration",
        "PutFunctionConcurrency",
        "DeleteFunctionConcurrency",
        "UpdateFunction",
        "CreateService",
        "ReplaceService",
        "UpdateService",
    }
)
"""Lambda, Cloud Functions and Cloud Run calls that set a function's timeout, memory or cap."""
CONFIG_COLUMNS: Final = (
    "time", "provider", "account", "service", "action", "principal", "resource", "raw",
)  # fmt: skip
DEFAULTS: Final = {"aws": (3.0, 128.0), "gcp": (60.0, 256.0)}
"""(timeout s, memory MB) a function has when no event in the lake says otherwise: Lambda's and
Cloud Functions' defaults."""
BILL_TIMEOUT_S: Final = 600.0
BILL_MEMORY_MB: Final = 4096.0
"""A timeout raised to at least this, memory raised to at least this: a change that raises the
bill of every invocation (the Lambda maxima are 900 s and 10240 MB)."""

LOOKBACK: Final = pd.Timedelta(days=7)
"""Bill-raising changes this long before a flood are named in its alert."""

_CHANGE_COLUMNS: Final = [
    "provider", "account", "function", "time", "principal", "action",
    "timeout_s", "memory_mb", "concurrency", "concurrency_removed",
]  # fmt: skip


def function_name(resource: pd.Series) -> pd.Series:
    """The short name of a function from what events put in ``resource``: a Lambda ARN
    (``arn:aws:lambda:r:a:function:NAME[:qualifier]``), a Cloud Functions or Cloud Run path
    (``projects/p/locations/l/functions/NAME``, ``.../services/NAME``) or a bare name."""
    text = resource.astype("string[pyarrow]").fillna("")
    arn = text.str.extract(r":function:([^:/]+)", expand=False)
    path = text.str.extract(r"/(?:functions|services)/([^/]+)$", expand=False)
    return arn.fillna(path).fillna(text).astype(object)


def config_changes(events: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration event of ``events`` (needs ``raw``): the function, who and
    when, and what it set (NaN: not set by this event)."""
    wanted = events[events["action"].astype("string[pyarrow]").isin(CONFIG_ACTIONS).fillna(False)]
    if wanted.empty:
        return no_changes()
    rows = []
    names = function_name(wanted["resource"]).to_numpy(dtype=object)
    for (_, event), name in zip(wanted.iterrows(), names, strict=True):
        record = _record(event["raw"])
        timeout, memory, concurrency, removed = _settings(str(event["action"]), record)
        if not name:
            name = _request_name(record)
        rows.append(
            (event["provider"], event["account"], name, event["time"], event["principal"],
             event["action"], timeout, memory, concurrency, removed)
        )  # fmt: skip
    out = pd.DataFrame(rows, columns=_CHANGE_COLUMNS)
    out["time"] = utc_times(out["time"])
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def read_config_changes(root: str, start: datetime, end: datetime) -> pd.DataFrame:
    """``config_changes`` of the lake's events in ``[start, end)``: only the configuration
    events are read, with their ``raw``."""
    from pipelines.lake import EventLake, _range_filter

    dataset = EventLake(root).dataset()
    if dataset is None:
        return no_changes()
    expr = ds.field("action").isin(sorted(CONFIG_ACTIONS))
    window = _range_filter(start, end)
    if window is not None:
        expr = expr & window
    table = dataset.to_table(columns=list(CONFIG_COLUMNS), filter=expr)
    return config_changes(table.to_pandas())


@dataclass(frozen=True)
class FunctionConfig:
    """A function's configuration at some instant, and where it comes from."""

    timeout_s: float
    memory_mb: float
    source: str
    """``UpdateFunctionConfiguration by alice 2026-03-07 12:14 UTC`` or ``defaults``."""
    raised: tuple[str, ...] = ()
    """Bill-raising changes in the lookback before that instant (wording for the analyst)."""


def config_at(
    changes: pd.DataFrame,
    provider: str,
    account: str,
    function: str,
    at: pd.Timestamp,
    *,
    lookback: pd.Timedelta = LOOKBACK,
) -> FunctionConfig:
    """The function's timeout and memory as of ``at`` (its last events setting each), and the
    bill-raising changes of the ``lookback`` before ``at``."""
    default_timeout, default_memory = DEFAULTS.get(provider, DEFAULTS["aws"])
    mine = changes[
        (changes["provider"] == provider)
        & (changes["account"] == account)
        & (changes["function"] == function)
        & (changes["time"] <= at)
    ]
    if mine.empty:
        return FunctionConfig(default_timeout, default_memory, "defaults (no configuration event)")
    timeout = _last(mine["timeout_s"], default_timeout)
    memory = _last(mine["memory_mb"], default_memory)
    setting = mine[mine["timeout_s"].notna() | mine["memory_mb"].notna()]
    last = setting.iloc[-1] if len(setting) else mine.iloc[-1]
    source = f"{last['action']} by {_who(last['principal'])} {_stamp(last['time'])}"
    return FunctionConfig(timeout, memory, source, tuple(_raised(mine, at - lookback)))


def _raised(mine: pd.DataFrame, since: pd.Timestamp) -> Iterable[str]:
    """Changes after ``since`` that raise the bill, against the value before each."""
    timeout = memory = np.nan
    for row in mine.to_dict("records"):
        recent = row["time"] >= since
        by = f"by {_who(row['principal'])} {_stamp(row['time'])}"
        new_t, new_m = row["timeout_s"], row["memory_mb"]
        if recent and _up(timeout, new_t, BILL_TIMEOUT_S):
            yield f"timeout {_was(timeout)}{new_t:g} s {by}"
        if recent and _up(memory, new_m, BILL_MEMORY_MB):
            yield f"memory {_was(memory)}{new_m:g} MB {by}"
        if recent and row["concurrency_removed"]:
            yield f"reserved concurrency removed {by}"
        timeout = new_t if not np.isnan(new_t) else timeout
        memory = new_m if not np.isnan(new_m) else memory


def _up(before: float, after: float, bar: float) -> bool:
    return not np.isnan(after) and after >= bar and (np.isnan(before) or after > before)


def _was(value: float) -> str:
    return "" if np.isnan(value) else f"{value:g} -> "


def _last(values: pd.Series, default: float) -> float:
    known = values.dropna()
    return float(known.iloc[-1]) if len(known) else default


def _who(principal: object) -> str:
    text = str(principal or "-")
    return text.rsplit("/", 1)[-1][:80] if text.startswith("arn:") else text[:80]


def _stamp(time: Any) -> str:
    return pd.Timestamp(time).strftime("%Y-%m-%d %H:%M UTC")


def _record(raw: object) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        value = orjson.loads(raw if isinstance(raw, bytes | str) else str(raw))
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: object) -> float:
    """Seconds or megabytes from 60, "60", "60s", "512M", "512Mi", "1Gi", "1G"."""
    if isinstance(value, bool) or value is None:
        return np.nan
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    scale = {
        "s": 1.0,
        "M": 1.0,
        "Mi": 1.0,
        "G": 1024.0,
        "Gi": 1024.0,
        "K": 1 / 1024,
        "Ki": 1 / 1024,
    }
    for suffix in sorted(scale, key=len, reverse=True):
        if text.endswith(suffix):
            text, factor = text[: -len(suffix)], scale[suffix]
            break
    else:
        factor = 1.0
    try:
        return float(text) * factor
    except ValueError:
        return np.nan


def _settings(action: str, record: dict[str, Any]) -> tuple[float, float, float, bool]:
    """(timeout s, memory MB, reserved concurrency, concurrency removed) an event sets."""
    if "protoPayload" in record:
        request = _dict(_dict(record["protoPayload"]).get("request"))
        fn = _dict(request.get("function")) or _dict(request.get("service"))
        service = _dict(fn.get("serviceConfig"))
        template = _dict(fn.get("template"))
        containers = template.get("containers") or [{}]
        limits = _dict(_dict(_dict(containers[0]).get("resources")).get("limits"))
        timeout = _number(
            service.get("timeoutSeconds") or fn.get("timeout") or template.get("timeout")
        )
        memory = _number(
            service.get("availableMemory") or fn.get("availableMemoryMb") or limits.get("memory")
        )
        return timeout, memory, np.nan, False
    response = _dict(record.get("responseElements"))
    request = _dict(record.get("requestParameters"))
    if action == "DeleteFunctionConcurrency":
        return np.nan, np.nan, np.nan, True
    if action == "PutFunctionConcurrency":
        value = response.get("reservedConcurrentExecutions")
        value = request.get("reservedConcurrentExecutions") if value is None else value
        return np.nan, np.nan, _number(value), False
    timeout = _number(response.get("timeout", request.get("timeout")))
    memory = _number(response.get("memorySize", request.get("memorySize")))
    return timeout, memory, np.nan, False


def _request_name(record: dict[str, Any]) -> str:
    name = _dict(record.get("requestParameters")).get("functionName")
    return function_name(pd.Series([str(name or "")])).iloc[0]


def no_changes() -> pd.DataFrame:
    """An empty ``config_changes`` frame: no function's configuration is known."""
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in _CHANGE_COLUMNS})
    out["time"] = pd.Series(dtype="datetime64[us, UTC]")
    for c in ("timeout_s", "memory_mb", "concurrency"):
        out[c] = pd.Series(dtype=np.float64)
    out["concurrency_removed"] = pd.Series(dtype=bool)
    return out
