"""The durable outbox: enqueue in the alert's transaction, claim with a lease, record, replay.

Claiming marks rows ``delivering`` with a fresh lease token; results are recorded only while
that token still holds, so a dispatcher that stalled past its lease cannot overwrite the
work of the one that took over. PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``; SQLite
(one writer at a time) with a single atomic ``UPDATE``. Only the oldest unfinished delivery
of each (subscription, alert) is due, which keeps deliveries in order per alert.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from detectors.alert import Alert
from service.webhooks.delivery import AttemptResult
from service.webhooks.models import (
    DEAD,
    DELIVERED,
    DELIVERING,
    PENDING,
    Attempt,
    Delivery,
    Subscription,
)
from service.webhooks.retry import RetryPolicy
from service.webhooks.store import matches


class SavedLike(Protocol):
    """What ``save_alerts`` returns per alert: the alert as stored and what changed."""

    @property
    def alert(self) -> Alert: ...

    @property
    def change(self) -> Literal["new", "updated", "unchanged"] | str: ...

    @property
    def shadow(self) -> bool: ...


def change_key(alert: Alert, change: str) -> str:
    """Identifies one change of an alert: re-enqueueing the same change is a no-op."""
    if change == "new":
        return "created"
    return f"updated:{alert.count}:{alert.status}:{alert.last_seen.isoformat()}"


def enqueue_for_alerts(session: Session, saved: Sequence[SavedLike]) -> int:
    """Queue one delivery per matching (subscription, alert, change); returns how many are new.

    Call it in the transaction that saved the alerts, so an alert and its deliveries commit or
    roll back together. ``unchanged`` and shadow alerts queue nothing; duplicates are ignored
    by key.
    """
    changed = [s for s in saved if s.change in ("new", "updated") and not s.shadow]
    if not changed:
        return 0
    subs = list(session.scalars(select(Subscription).where(Subscription.enabled.is_(True))))
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for item in changed:
        event = "alert.created" if item.change == "new" else "alert.updated"
        snapshot = item.alert.model_dump(mode="json")
        key = change_key(item.alert, item.change)
        rows.extend(
            _row(sub.id, item.alert.id, event, key, snapshot, now)
            for sub in subs
            if matches(sub, item.alert)
        )
    return _insert_ignoring_duplicates(session, rows)


STATUS_CHANGE = "triage:"
"""``change_key`` prefix of the deliveries an analyst's status change or verdict queued"""


def is_status_change(change_key: str) -> bool:
    return change_key.startswith(STATUS_CHANGE)


def enqueue_status_change(
    session: Session, alert: Alert, *, triage_id: int, disposition: str | None = None
) -> int:
    """Queue an ``alert.updated`` of a triage action (ack, resolve, reopen, a verdict) to every
    matching subscription; returns how many were queued.

    Call it in the triage's transaction. Keyed by the triage row, so acknowledging, resolving,
    reopening and resolving again are four deliveries, each sent in order after the ones
    before it for the same alert; ``pagerduty`` turns them into ``acknowledge`` / ``resolve`` /
    ``trigger`` with the alert's dedup key.
    """
    subs = list(session.scalars(select(Subscription).where(Subscription.enabled.is_(True))))
    snapshot = alert.model_dump(mode="json") | {"disposition": disposition}
    key = f"{STATUS_CHANGE}{triage_id}"
    now = datetime.now(UTC)
    rows = [
        _row(sub.id, alert.id, "alert.updated", key, snapshot, now)
        for sub in subs
        if matches(sub, alert)
    ]
    return _insert_ignoring_duplicates(session, rows)


def enqueue_test(session: Session, sub: Subscription, alert: Alert) -> Delivery:
    """Queue a ``test`` delivery of a sample alert to one subscription."""
    row = _row(sub.id, alert.id, "test", f"test:{uuid.uuid4()}", alert.model_dump(mode="json"))
    delivery = Delivery(**row)
    session.add(delivery)
    session.flush()
    return delivery


def _row(
    sub_id: str,
    alert_id: str,
    event: str,
    key: str,
    snapshot: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    when = now or datetime.now(UTC)
    return {
        "id": str(uuid.uuid4()),
        "subscription_id": sub_id,
        "alert_id": alert_id,
        "event": event,
        "change_key": key,
        "alert": snapshot,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": when,
        "created_at": when,
        "retry_from": when,
        "retry_base": 0,
    }


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = pg_insert(Delivery).on_conflict_do_nothing(constraint="uq_webhook_delivery")
    elif dialect == "sqlite":
        stmt = sqlite_insert(Delivery).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"outbox has no duplicate-free insert for {dialect}")
    inserted = 0
    for chunk in range(0, len(rows), 500):
        result = session.execute(stmt.values(rows[chunk : chunk + 500]).returning(Delivery.seq))
        inserted += len(result.all())
    return inserted


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed delivery: who holds it and until when."""

    seq: int
    token: str


def _due(now: datetime) -> Any:
    earlier = aliased(Delivery)
    blocked_by_earlier = exists().where(
        and_(
            earlier.subscription_id == Delivery.subscription_id,
            earlier.alert_id == Delivery.alert_id,
            earlier.seq < Delivery.seq,
            earlier.status.in_((PENDING, DELIVERING)),
        )
    )
    ready = or_(
        and_(Delivery.status == PENDING, Delivery.next_attempt_at <= now),
        and_(Delivery.status == DELIVERING, Delivery.lease_until < now),
    )
    return and_(ready, ~blocked_by_earlier)


def claim_due(
    session: Session, *, now: datetime, lease: timedelta, limit: int = 20
) -> list[Delivery]:
    """Claim up to ``limit`` due deliveries for this caller and commit the claim."""
    token = str(uuid.uuid4())
    if session.get_bind().dialect.name == "postgresql":
        seqs = list(
            session.scalars(
                select(Delivery.seq)
                .where(_due(now))
                .order_by(Delivery.seq)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not seqs:
            session.commit()
            return []
        where: Any = Delivery.seq.in_(seqs)
    else:
        where = Delivery.seq.in_(
            select(Delivery.seq).where(_due(now)).order_by(Delivery.seq).limit(limit)
        )
    session.execute(
        update(Delivery)
        .where(where)
        .values(status=DELIVERING, lease_token=token, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    claimed = session.scalars(
        select(Delivery)
        .where(Delivery.lease_token == token)
        .order_by(Delivery.seq)
        .execution_options(populate_existing=True)
    )
    return list(claimed)


def renew_leases(session: Session, token: str, *, now: datetime, lease: timedelta) -> set[int]:
    """Extend the unexpired leases of one claim; returns the seqs this caller still holds.

    Claims come in batches, so a lease taken at claim time could run out while earlier
    deliveries of the batch are sent; the dispatcher renews before that can happen.
    """
    held = session.execute(
        update(Delivery)
        .where(
            Delivery.lease_token == token,
            Delivery.status == DELIVERING,
            Delivery.lease_until >= now,
        )
        .values(lease_until=now + lease)
        .returning(Delivery.seq)
        .execution_options(synchronize_session=False)
    )
    seqs = {int(seq) for seq in held.scalars()}
    session.commit()
    return seqs


def release_claims(session: Session, token: str, seqs: Collection[int]) -> int:
    """Hand back claimed deliveries this caller will not attempt (it is stopping), so another
    dispatcher takes them at once instead of after the lease; returns how many it released.

    Only rows still held under ``token`` go back to pending: one whose lease ran out and was
    claimed again belongs to its new holder.
    """
    if not seqs:
        return 0
    released = session.execute(
        update(Delivery)
        .where(
            Delivery.lease_token == token,
            Delivery.status == DELIVERING,
            Delivery.seq.in_(list(seqs)),
        )
        .values(status=PENDING, lease_token=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(released, "rowcount", 0) or 0)


def record_attempt(
    session: Session,
    delivery: Delivery,
    result: AttemptResult,
    *,
    policy: RetryPolicy,
    now: datetime,
    dispatcher: str,
) -> str | None:
    """Record one attempt and move the delivery on; None when the lease was lost meanwhile.

    Returns the new status: delivered, pending (retry scheduled) or dead.
    """
    attempts = delivery.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_status_code": result.status_code,
        "last_error": result.error,
        "lease_token": None,
        "lease_until": None,
    }
    if result.ok:
        values.update(status=DELIVERED, finished_at=now, last_error=None)
    else:
        when = (
            policy.next_attempt(
                attempts=attempts - delivery.retry_base,
                created=delivery.retry_from,
                now=now,
                retry_after=result.retry_after,
            )
            if result.retryable
            else None
        )
        if when is None:
            values.update(status=DEAD, finished_at=now)
        else:
            values.update(status=PENDING, next_attempt_at=when)
    changed = session.execute(
        update(Delivery)
        .where(Delivery.seq == delivery.seq, Delivery.lease_token == delivery.lease_token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 0) != 1:
        session.rollback()
        return None
    session.add(
        Attempt(
            delivery_seq=delivery.seq,
            number=attempts,
            started_at=now,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            dispatcher=dispatcher[:64],
        )
    )
    session.commit()
    return str(values["status"])


def replay(session: Session, sub_id: str, delivery_id: str | None = None) -> int:
    """Put dead deliveries (one, or all of a subscription) back in the queue with a new window."""
    now = datetime.now(UTC)
    where = [Delivery.subscription_id == sub_id, Delivery.status == DEAD]
    if delivery_id:
        where.append(Delivery.id == delivery_id)
    result = session.execute(
        update(Delivery)
        .where(*where)
        .values(
            status=PENDING,
            next_attempt_at=now,
            retry_from=now,
            retry_base=Delivery.attempts,
            finished_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
