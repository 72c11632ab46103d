"""Saving alerts (fold repeats, stay idempotent, apply suppressions) and reading them back.

``save_alerts`` takes the caller's Session and never commits: the daily job (and the webhook
outbox after it) write in the same transaction, so either all of a run lands or none does.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from detectors.alert import EVIDENCE_SAMPLE_LIMIT, SEVERITY_RANK, Alert, Disposition
from service.alerts import counts as _counts  # noqa: F401  (keeps alert_counts on every flush)
from service.alerts.models import AlertRow
from service.db import utcnow
from service.suppressions.store import ActiveSuppression, active_suppressions

Change = Literal["new", "updated", "unchanged"]

EVIDENCE_ID_LIMIT = 1000
"""Event ids kept per alert: enough to tell repeats apart and to pull evidence, bounded."""

DEFAULT_WINDOW = timedelta(hours=24)


class StoredAlert(Alert):
    """An alert as the store holds it: the contract fields plus triage state."""

    assignee: str | None = None
    disposition: Disposition | None = None
    updated_at: datetime | None = None
    shadow: bool = False
    """raised by a rule or model in shadow mode: stored, counted, never listed by default or
    delivered"""


@dataclass(frozen=True)
class SavedAlert:
    """The stored state of an alert after a save, and what the save did to it."""

    alert: Alert
    change: Change
    shadow: bool = False
    """a shadow alert: the outbox queues nothing for it"""


def dedup_hash(key: str) -> str:
    """What the store indexes instead of the (unbounded, attacker-influenced) dedup key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def save_alerts(
    session: Session,
    alerts: Sequence[Alert],
    *,
    window: timedelta = DEFAULT_WINDOW,
    now: datetime | None = None,
    shadow: Callable[[Alert], bool] | None = None,
) -> list[SavedAlert]:
    """Store alerts, folding each into an open alert of the same ``dedup_key`` within ``window``.

    A repeat whose evidence event ids are all known is the same occurrence saved again and
    changes nothing; new ids add to ``count``. New alerts matching an active suppression are
    stored with status ``suppressed``. ``shadow`` (``service.rules.store.ShadowPlan``) tells
    which new alerts are shadow; a live alert never folds into a shadow one (nor the other way),
    so a rule moved from shadow to live pages on its next hit. Flushes, does not commit.
    """
    if not alerts:
        return []
    now = now or utcnow()
    suppressions = active_suppressions(session, now)
    by_id = {
        row.id: row
        for row in session.scalars(select(AlertRow).where(AlertRow.id.in_({a.id for a in alerts})))
    }
    open_rows: dict[str, list[AlertRow]] = defaultdict(list)
    earliest = min(a.first_seen for a in alerts) - window
    hashes = {dedup_hash(a.dedup_key) for a in alerts}
    stmt = select(AlertRow).where(
        AlertRow.dedup_hash.in_(hashes),
        AlertRow.last_seen >= earliest,
        AlertRow.status != "resolved",
    )
    for row in session.scalars(stmt):
        open_rows[row.dedup_hash].append(row)

    changes: dict[str, Change] = {}
    rows: dict[str, AlertRow] = {}
    for alert in alerts:
        key_hash = dedup_hash(alert.dedup_key)
        is_shadow = bool(shadow and shadow(alert))
        found = by_id.get(alert.id) or _in_window(open_rows[key_hash], alert, window, is_shadow)
        if found is None:
            row = _new_row(alert, suppressions, now, is_shadow)
            session.add(row)
            by_id[row.id] = row
            open_rows[key_hash].append(row)
            changes[row.id] = "new"
        else:
            row = found
            if _fold_into(row, alert, now):
                changes[row.id] = "new" if changes.get(row.id) == "new" else "updated"
            else:
                changes.setdefault(row.id, "unchanged")
        rows[row.id] = row
    session.flush()
    return [
        SavedAlert(to_alert(rows[i]), change, bool(rows[i].shadow)) for i, change in changes.items()
    ]


def _in_window(
    rows: list[AlertRow], alert: Alert, window: timedelta, shadow: bool
) -> AlertRow | None:
    fits = [
        row
        for row in rows
        if row.dedup_hash == dedup_hash(alert.dedup_key)
        and row.status != "resolved"
        and bool(row.shadow) == shadow
        and row.first_seen - window <= alert.first_seen <= row.last_seen + window
    ]
    return max(fits, key=lambda row: row.last_seen) if fits else None


def _new_row(
    alert: Alert, suppressions: list[ActiveSuppression], now: datetime, shadow: bool = False
) -> AlertRow:
    status = alert.status
    if status == "open" and any(s.matches(alert) for s in suppressions):
        status = "suppressed"
    ids = list(dict.fromkeys(alert.evidence.event_ids))[:EVIDENCE_ID_LIMIT]
    return AlertRow(
        id=alert.id,
        dedup_key=alert.dedup_key,
        dedup_hash=dedup_hash(alert.dedup_key),
        detector=alert.detector,
        rule_id=alert.rule_id,
        title=alert.title,
        severity=alert.severity,
        severity_rank=SEVERITY_RANK[alert.severity],
        score=alert.score,
        provider=alert.provider,
        account=alert.account,
        principal=alert.principal,
        resource=alert.resource,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        count=alert.count,
        status=status,
        tags=list(dict.fromkeys(alert.tags)),
        evidence={"event_ids": ids, "sample": alert.evidence.sample[:EVIDENCE_SAMPLE_LIMIT]},
        explanation=_explanation(alert),
        runbook=alert.runbook,
        created_at=now,
        updated_at=now,
        shadow=shadow,
    )


def _fold_into(row: AlertRow, alert: Alert, now: datetime) -> bool:
    """Fold one occurrence into a stored alert; False when it was already counted."""
    stored_ids: list[str] = list(row.evidence.get("event_ids", []))
    known = set(stored_ids)
    incoming = list(dict.fromkeys(alert.evidence.event_ids))
    fresh = [i for i in incoming if i not in known]
    if incoming:
        added = alert.count if len(fresh) == len(incoming) else min(alert.count, len(fresh))
    else:
        # Without event ids only time can tell a new occurrence from a replay.
        later = alert.last_seen > row.last_seen or alert.first_seen < row.first_seen
        added = alert.count if later else 0
    if added == 0:
        return False
    row.count += added
    if alert.last_seen >= row.last_seen:
        row.title = alert.title
        row.explanation = _explanation(alert) or row.explanation
        row.runbook = alert.runbook or row.runbook
    row.first_seen = min(row.first_seen, alert.first_seen)
    row.last_seen = max(row.last_seen, alert.last_seen)
    row.score = max(row.score, alert.score)
    if SEVERITY_RANK[alert.severity] > row.severity_rank:
        row.severity, row.severity_rank = alert.severity, SEVERITY_RANK[alert.severity]
    row.tags = list(dict.fromkeys([*row.tags, *alert.tags]))
    sample = [*row.evidence.get("sample", []), *alert.evidence.sample][:EVIDENCE_SAMPLE_LIMIT]
    row.evidence = {"event_ids": (stored_ids + fresh)[:EVIDENCE_ID_LIMIT], "sample": sample}
    row.updated_at = now
    return True


def _explanation(alert: Alert) -> list[dict[str, Any]] | None:
    if alert.explanation is None:
        return None
    return [d.model_dump(mode="json") for d in alert.explanation]


def to_alert(row: AlertRow) -> Alert:
    """The Alert (contract) a stored row stands for."""
    return Alert.model_validate(_fields(row))


def to_stored(row: AlertRow) -> StoredAlert:
    """The alert with its triage state, for the API and the CLI."""
    return StoredAlert.model_validate(
        _fields(row)
        | {
            "assignee": row.assignee,
            "disposition": row.disposition,
            "updated_at": row.updated_at,
            "shadow": bool(row.shadow),
        }
    )


def _fields(row: AlertRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "dedup_key": row.dedup_key,
        "detector": row.detector,
        "rule_id": row.rule_id,
        "title": row.title,
        "severity": row.severity,
        "score": row.score,
        "provider": row.provider,
        "account": row.account,
        "principal": row.principal,
        "resource": row.resource,
        "first_seen": row.first_seen,
        "last_seen": row.last_seen,
        "count": row.count,
        "status": row.status,
        "tags": row.tags,
        "evidence": row.evidence,
        "explanation": row.explanation,
        "runbook": row.runbook,
    }
