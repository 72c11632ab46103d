"""Rule matches -> Alert objects: titles from templates, entities, evidence, dedup keys."""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd

from detectors.alert import EVIDENCE_SAMPLE_LIMIT, Alert, Evidence, alert_id, dedup_key, short_hash
from detectors.rules.context import BatchContext
from detectors.rules.model import Matches, RuleMeta
from detectors.rules.sigma_rules import PLACEHOLDER
from pipelines.events import event_records

TITLE_VALUE_LIMIT = 200
"""Longest value inserted into a title; attackers control many fields (100 kB user agents)."""
TITLE_LIMIT = 1000
KEY_VALUE_LIMIT = 200
"""Longer entity values are hashed inside the dedup key so keys stay bounded."""

_CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_CONTROL.update({0x2028: "\\u2028", 0x2029: "\\u2029"})


def plain_text(value: object, limit: int = TITLE_VALUE_LIMIT) -> str:
    """A value made safe for one line of text: control characters escaped, length bounded."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text.translate(_CONTROL)


def render_title(template: str, ctx: BatchContext, row: int) -> str:
    """Fill ``{field}`` placeholders from one event; values are inserted, never interpreted."""

    def fill(match: re.Match[str]) -> str:
        value = ctx.first_values(match.group(1), np.array([row]))[0]
        return "?" if value is None or value == "" else plain_text(value)

    return plain_text(PLACEHOLDER.sub(fill, template), TITLE_LIMIT)


def _key_part(value: str | None) -> str | None:
    if value is None or len(value) <= KEY_VALUE_LIMIT:
        return value
    return "sha256:" + short_hash(value)


def _groups(meta: RuleMeta, ctx: BatchContext, matches: Matches) -> list[np.ndarray]:
    if isinstance(matches, list):
        return [g for g in matches if len(g)]
    rows = np.flatnonzero(matches)
    if not len(rows):
        return []
    keys = pd.DataFrame(
        {f"k{i}": ctx.first_values(name, rows) for i, name in enumerate(meta.dedup)}
    ).fillna("\x00")
    keys["row"] = rows
    if not meta.dedup:
        return [rows]
    cols = [f"k{i}" for i in range(len(meta.dedup))]
    return [g["row"].to_numpy() for _, g in keys.groupby(cols, sort=False)]


def build_alerts(meta: RuleMeta, ctx: BatchContext, matches: Matches) -> list[Alert]:
    """One alert per dedup group (mask) or per row group (correlation window)."""
    events = ctx.events
    times = events["time"]
    alerts: list[Alert] = []
    for group in _groups(meta, ctx, matches):
        order = np.argsort(times.iloc[group].to_numpy(), kind="stable")
        rows = group[order]
        first = int(rows[0])
        first_seen: datetime = pd.Timestamp(times.iat[first]).to_pydatetime()  # type: ignore[arg-type]
        last_seen: datetime = pd.Timestamp(times.iat[int(rows[-1])]).to_pydatetime()  # type: ignore[arg-type]
        entity = [_key_part(ctx.first_values(name, np.array([first]))[0]) for name in meta.dedup]
        key = dedup_key("rule", meta.rule_id, *entity)
        sample = list(event_records(events.iloc[rows[:EVIDENCE_SAMPLE_LIMIT]]))

        def column(name: str, row: int = first) -> str | None:
            value: object = events[name].iat[row]
            return None if value is None or value is pd.NA else str(value)

        alerts.append(
            Alert(
                id=alert_id(key, first_seen),
                dedup_key=key,
                detector="rule",
                rule_id=meta.rule_id,
                title=render_title(meta.title_template or meta.title, ctx, first),
                severity=meta.severity,
                score=meta.score,
                provider=column("provider"),
                account=column("account"),
                principal=column("principal"),
                resource=column("resource"),
                first_seen=first_seen,
                last_seen=last_seen,
                count=len(rows),
                tags=list(meta.tags),
                evidence=Evidence(
                    event_ids=[str(i) for i in events["id"].iloc[rows].tolist()], sample=sample
                ),
                runbook=meta.runbook,
            )
        )
    return alerts
