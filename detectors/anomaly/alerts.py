"""Turn detector candidates into Alerts: one per principal (or series) and window, with
evidence, after the alert-volume guard has kept the highest scores."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from detectors.alert import (
    EVIDENCE_SAMPLE_LIMIT,
    Alert,
    Evidence,
    Severity,
    alert_id,
    dedup_key,
)
from pipelines.events import event_records
from pipelines.features import window_start
from pipelines.features.keys import utc_times

MAX_TITLE_VALUE = 120

RUNBOOKS = {
    "isolation-forest": (
        "Compare the window's calls with the principal's usual work: new actions, secret reads, "
        "function changes and errors. Confirm with the owner; if unexplained, rotate its keys."
    ),
    "first-seen": (
        "Check whether the new address, network, region or tool belongs to the principal's "
        "owner (new laptop, VPN, new pipeline). If not, treat its credentials as stolen."
    ),
    "dormant-identity": (
        "Ask the identity's owner whether they used it; a forgotten user or key waking up to read "
        "secrets or change IAM, code or logging is how leaked credentials are used. If nobody "
        "claims it: disable the key, review what it read, rotate those secrets."
    ),
    "denial-of-wallet": (
        "Find who drives the invocations (API keys, source addresses, the caller in the "
        "evidence) and whether a launch or batch explains them; check the bill-raising changes "
        "named in the explanation, set reserved concurrency or throttling on the function and "
        "its API, and put a budget alert on the account."
    ),
    "volume-drop": (
        "Check that the logs still arrive (trail or sink stopped, delivery broken, data events "
        "switched off) and whether the function was disabled (reserved concurrency 0), deleted "
        "or replaced; compare with deployments in the audit log."
    ),
    "volume": (
        "Find who drove the spike (principals and source addresses in the evidence) and whether "
        "a deployment explains it; for invocation floods check cost and concurrency limits."
    ),
}
TAGS = {
    "isolation-forest": ["anomaly", "T1078"],
    "first-seen": ["anomaly", "first-seen", "T1078.004"],
    "dormant-identity": ["anomaly", "dormant-identity", "T1078.004"],
    "volume": ["anomaly", "volume", "T1496"],
    "denial-of-wallet": ["anomaly", "denial-of-wallet", "T1496", "T1499.003"],
    "volume-drop": ["anomaly", "volume-drop", "T1562.008"],
}
SERIES = ("volume", "denial-of-wallet", "volume-drop")
"""Detectors whose candidates are series (a function, an action, an account), not principals."""


def _short(value: object) -> str:
    text = str(value) if value is not None else "-"
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= MAX_TITLE_VALUE else text[: MAX_TITLE_VALUE - 1] + "…"


def _clean(value: Any) -> Any:
    """Frame cells as Python values: missing (None/NaN/NA) becomes None."""
    if isinstance(value, list):
        return value
    return None if value is None or bool(pd.isna(value)) else value


def _severity(score: float) -> Severity:
    return "high" if score >= 0.9 else "medium" if score >= 0.7 else "low"


def rank_keys(candidates: pd.DataFrame) -> list[str]:
    """A text per candidate that breaks score ties the same way whatever batch it came from:
    detector, entity or series, window, measure. The guard's order is then a total order, so
    guarding partitions first and their survivors again gives the one-batch result."""
    keys = []
    for row in candidates.to_dict("records"):
        who = (
            f"{row.get('kind')}:{row.get('key')}"
            if row["detector"] in SERIES
            else _clean(row.get("principal"))
        )
        measure = _clean(row.get("measure")) or ""
        when = pd.Timestamp(row["window"]).isoformat()
        keys.append(f"{row['detector']}|{row['provider']}|{row['account']}|{who}|{when}|{measure}")
    return keys


def guard(candidates: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, int]:
    """Keep the ``limit`` highest scores (ties by ``rank_keys``); return them and how many were
    held back."""
    if len(candidates) <= limit:
        return candidates, 0
    ranked = candidates.assign(_rank=rank_keys(candidates), _score=-candidates["score"])
    kept = ranked.sort_values(["_score", "_rank"], kind="stable").head(limit)
    return kept.drop(columns=["_rank", "_score"]), len(candidates) - limit


def build_alerts(
    candidates: pd.DataFrame, events: pd.DataFrame, *, window: str, evidence_ids: int
) -> list[Alert]:
    """Alerts for guarded candidates (columns: detector, provider, account, principal, resource,
    window, score, title, explanation, event_ids or None), their evidence taken from ``events``
    (volume candidates: every event of the series' window; others: the principal's)."""
    if candidates.empty:
        return []
    windows = window_start(events["time"], window)
    text = {
        c: events[c].astype("string[pyarrow]").fillna("")
        for c in ("provider", "account", "principal", "action", "resource", "category")
    }
    alerts = []
    for raw in candidates.to_dict("records"):
        row = {k: _clean(v) for k, v in raw.items()}
        mask = (
            (windows == row["window"])
            & (text["provider"] == row["provider"])
            & (text["account"] == (row["account"] or ""))
        )
        if row["detector"] == "volume-drop":
            mask &= False  # what is missing has no events; the explanation is the evidence
        elif row["detector"] == "denial-of-wallet":
            mask &= text["category"] == "invocation"
            if row["kind"] == "function":
                mask &= text["resource"].isin(row["members"] or [row["key"]])
        elif row["detector"] == "volume":
            column = {"function": "resource", "principal": "principal"}.get(row["kind"], "action")
            mask &= text[column] == row["key"]
            if row["kind"] == "function":
                mask &= text["category"] == "invocation"
        else:
            mask &= text["principal"] == (row["principal"] or "")
        window_events = events[mask.to_numpy(bool)]
        if isinstance(row["event_ids"], list) and row["event_ids"]:
            chosen = window_events[window_events["id"].isin(row["event_ids"])]
        else:
            chosen = window_events
        chosen = chosen.sort_values("time", kind="stable").head(evidence_ids)
        times = utc_times(window_events["time"])
        first: datetime = times.min().to_pydatetime() if len(times) else row["window"]
        last: datetime = times.max().to_pydatetime() if len(times) else row["window"]
        ids = [str(i) for i in chosen["id"]]
        alerts.append(candidate_alert(row, ids, chosen.head(EVIDENCE_SAMPLE_LIMIT), first, last))
    return alerts


def candidate_alert(
    raw: Mapping[Any, Any], ids: list[str], sample: pd.DataFrame, first: datetime, last: datetime
) -> Alert:
    """The alert of one candidate, given its evidence ids (in time order, already capped), the
    events of its sample and its window's first and last event time."""
    row = {k: _clean(v) for k, v in raw.items()}
    key = dedup_key(
        "anomaly",
        row["detector"],
        row["account"],
        row["principal"] if row["detector"] not in SERIES else f"{row['kind']}:{row['key']}",
        pd.Timestamp(row["window"]).isoformat(),
    )
    records: list[dict[str, Any]] = list(event_records(sample.head(EVIDENCE_SAMPLE_LIMIT)))
    score = float(np.clip(row["score"], 0.0, 1.0))
    return Alert(
        id=alert_id(key, first),
        dedup_key=key,
        detector="anomaly",
        rule_id=row["detector"],
        title=row["title"],
        severity=_severity(score),
        score=score,
        provider=row["provider"] or None,
        account=row["account"] or None,
        principal=row["principal"] or None,
        resource=row["resource"] or None,
        first_seen=first,
        last_seen=last,
        count=1,
        tags=list(TAGS[row["detector"]]),
        evidence=Evidence(event_ids=ids, sample=records),
        explanation=list(row["explanation"]),
        runbook=RUNBOOKS[row["detector"]],
    )


def principal_title(detector: str, frame: pd.DataFrame) -> list[str]:
    """One human line per principal-window candidate."""
    titles = []
    for row in frame.to_dict("records"):
        when = pd.Timestamp(row["window"]).strftime("%Y-%m-%d %H:%M")
        if detector == "dormant-identity":
            slept, did = row["explanation"][0].observed, row["explanation"][1].observed
            titles.append(
                f"Dormant identity {_short(row['principal'])} in {_short(row['account'])} back "
                f"after {slept}: {_short(did)} ({when} UTC)"
            )
        elif detector == "first-seen":
            kinds = sorted({d.feature for d in row["explanation"]})
            what = ", ".join(kinds)
            titles.append(
                f"{_short(row['principal'])} in {_short(row['account'])}: {what} ({when} UTC)"
            )
        else:
            top = row["explanation"][0].feature if row["explanation"] else "its features"
            titles.append(
                f"Unusual activity by {_short(row['principal'])} in {_short(row['account'])}: "
                f"{top} far above usual ({when} UTC)"
            )
    return titles


def volume_title(frame: pd.DataFrame) -> list[str]:
    """One human line per volume candidate."""
    titles = []
    for row in frame.to_dict("records"):
        when = pd.Timestamp(row["window"]).strftime("%Y-%m-%d %H:%M")
        if row["measure"] == "error_rate":
            titles.append(
                f"Error rate of {row['kind']} {_short(row['key'])} in {_short(row['account'])}: "
                f"{float(row['observed']):.0%} of calls failed ({when} UTC)"
            )
            continue
        what = "invocations of function" if row["kind"] == "function" else "calls of"
        noun = "errors in" if row["measure"] == "errors" else ""
        titles.append(
            f"Spike of {noun} {what} {_short(row['key'])} in {_short(row['account'])}: "
            f"{int(row['observed'])} in one window ({when} UTC)".replace("  ", " ")
        )
    return titles


def wallet_title(frame: pd.DataFrame) -> list[str]:
    """One human line per denial-of-wallet candidate, with the estimated cost when known."""
    titles = []
    for row in frame.to_dict("records"):
        when = pd.Timestamp(row["window"]).strftime("%Y-%m-%d %H:%M")
        what = f"function {_short(row['key'])}" if row["kind"] == "function" else "all functions"
        cost = next((d for d in row["explanation"] if d.feature == "estimated cost at risk"), None)
        money = f", ~{str(cost.observed).split(' ')[0]} at risk (estimate)" if cost else ""
        titles.append(
            f"Denial of wallet? {what} in {_short(row['account'])} invoked "
            f"{int(row['observed'])} times in one hour{money} ({when} UTC)"
        )
    return titles


def drop_title(frame: pd.DataFrame) -> list[str]:
    """One human line per volume-drop candidate."""
    titles = []
    for row in frame.to_dict("records"):
        when = pd.Timestamp(row["window"]).strftime("%Y-%m-%d %H:%M")
        what = (
            f"Invocations of function {_short(row['key'])}"
            if row["kind"] == "function"
            else "Every logged call"
        )
        titles.append(
            f"{what} in {_short(row['account'])} dropped to {int(row['observed'])} "
            f"(expected ~{float(row['expected']):.0f}) over {row['hours']} hours from {when} UTC"
        )
    return titles
