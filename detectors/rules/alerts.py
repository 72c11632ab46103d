"""Rule matches -> Alert objects: titles from templates, entities, evidence, dedup keys."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from detectors.alert import EVIDENCE_SAMPLE_LIMIT, Alert, Evidence, alert_id, dedup_key, short_hash
from detectors.rules.context import BatchContext, is_row_level
from detectors.rules.model import Matches, RuleMeta
from detectors.rules.sigma_rules import PLACEHOLDER
from pipelines.events import EVENT_COLUMNS

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


def _instant(micros: int) -> datetime:
    return datetime.fromtimestamp(0, UTC) + timedelta(microseconds=micros)


def _key_part(value: str | None) -> str | None:
    if value is None or len(value) <= KEY_VALUE_LIMIT:
        return value
    return "sha256:" + short_hash(value)


def _groups(meta: RuleMeta, ctx: BatchContext, matches: Matches) -> list[np.ndarray]:
    """Row groups, one per alert: given (correlations) or by dedup values, in row order."""
    if isinstance(matches, list):
        return [g for g in matches if len(g)]
    rows = np.flatnonzero(matches)
    if not len(rows) or not meta.dedup:
        return [rows] if len(rows) else []
    combined = np.zeros(len(rows), dtype=np.int64)
    for name in meta.dedup:
        values = ctx.first_array(name, rows)
        codes = pc.fill_null(pc.dictionary_encode(values).indices, -1).to_numpy()
        combined = combined * (int(codes.max()) + 2) + (codes + 1)
        _, combined = np.unique(combined, return_inverse=True)  # keep the codes small
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse))[:-1]
    groups = np.split(rows[order], bounds)
    return [groups[g] for g in np.argsort(first, kind="stable")]


def _sample(ctx: BatchContext, rows: np.ndarray) -> list[dict[str, object]]:
    """Normalized records as ``event_records`` writes them (time ISO 8601 Z, raw decoded)."""
    load_samples(ctx, rows)
    return [dict(ctx.samples[row]) for row in rows.tolist()]


def load_samples(ctx: BatchContext, rows: np.ndarray) -> None:
    """Build the sample records of ``rows`` not built yet, with one take of the columns (a
    take per alert was two thousand small takes for a day's 367 alerts)."""
    missing = [row for row in dict.fromkeys(rows.tolist()) if row not in ctx.samples]
    if not missing:
        return
    # ``raw`` comes decoded from the context's prefetched texts, not from a take of its column
    ctx.prefetch(np.asarray(missing, dtype=np.int64))
    narrow = ctx.take_columns(missing).to_pylist()
    for position, columns in zip(missing, narrow, strict=True):
        raw = ctx.raw_text(position)
        row: dict[str, Any] = {
            name: raw if name == "raw" else columns[name] for name in EVENT_COLUMNS
        }
        ts = row["time"]
        row["time"] = ts.isoformat().replace("+00:00", "Z") if ts is not None else None
        with contextlib.suppress(orjson.JSONDecodeError):  # else kept as the text it was
            row["raw"] = orjson.loads(raw) if raw else None
        ctx.samples[position] = row


def alert_groups(meta: RuleMeta, ctx: BatchContext, matches: Matches) -> list[np.ndarray]:
    """The rows of each alert the matches make, in time order (first row first)."""
    if any(is_row_level(name) for name in meta.dedup) and not isinstance(matches, list):
        ctx.prefetch(np.flatnonzero(matches))  # dedup values of every matched row, one fetch
    return [g[np.argsort(ctx.time_ns[g], kind="stable")] for g in _groups(meta, ctx, matches)]


def evidence_rows(groups: list[np.ndarray]) -> np.ndarray:
    """Rows whose raw record an alert of these groups shows (the sample), for one prefetch."""
    if not groups:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([g[:EVIDENCE_SAMPLE_LIMIT] for g in groups])


def build_alerts(
    meta: RuleMeta, ctx: BatchContext, matches: Matches, groups: list[np.ndarray] | None = None
) -> list[Alert]:
    """One alert per dedup group (mask) or per row group (correlation window).

    ``groups``: ``alert_groups`` of these matches, when the caller already has them.
    """
    ids = ctx.column("id")
    alerts: list[Alert] = []
    for rows in alert_groups(meta, ctx, matches) if groups is None else groups:
        first = int(rows[0])
        first_seen = _instant(int(ctx.time_ns[first]))
        last_seen = _instant(int(ctx.time_ns[rows[-1]]))
        entity = [_key_part(ctx.first_values(name, np.array([first]))[0]) for name in meta.dedup]
        key = dedup_key("rule", meta.rule_id, *entity)
        sample = _sample(ctx, rows[:EVIDENCE_SAMPLE_LIMIT])

        def column(name: str, row: int = first) -> str | None:
            value = ctx.column_text(name)[row].as_py()
            return None if value is None else str(value)

        alerts.append(
            Alert(
                id=alert_id(key, first_seen),
                dedup_key=key,
                detector="rule",
                rule_id=meta.rule_id,
                title=(
                    render_title(meta.title_template, ctx, first)
                    if meta.title_template
                    else plain_text(meta.title, TITLE_LIMIT)
                ),
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
                    event_ids=ids.take(pa.array(rows, pa.int64())).to_pylist(), sample=sample
                ),
                runbook=meta.runbook,
            )
        )
    return alerts
