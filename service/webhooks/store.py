"""Plain functions over a session for webhook subscriptions and their delivery history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from detectors.alert import SEVERITIES, SEVERITY_RANK, Alert
from pipelines.settings import Settings
from service.query import Order, Page, paginate
from service.webhooks import secrets
from service.webhooks.formats import FORMAT_NAMES
from service.webhooks.models import Attempt, Delivery, Subscription
from service.webhooks.ssrf import check_literal


class InvalidSubscription(ValueError):
    """A subscription request that cannot be accepted; the message names the field."""


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """What an admin asks for in ``POST /v1/webhooks``."""

    url: str
    format: str = "generic"
    min_severity: str = "info"
    detectors: Sequence[str] | None = None
    rules: Sequence[str] | None = None
    accounts: Sequence[str] | None = None
    tags: Sequence[str] | None = None
    enabled: bool = True
    secret_ref: str | None = None
    routing_key: str | None = None
    description: str | None = None


def create_subscription(
    session: Session, settings: Settings, request: NewSubscription
) -> tuple[Subscription, str | None]:
    """Store a subscription; returns it with its new signing secret (None for a vault reference).

    The plaintext secret exists only in the return value: the row keeps it encrypted.
    """
    try:
        check_literal(request.url, allow_private=settings.webhook_allow_private)
    except ValueError as exc:
        raise InvalidSubscription(f"url: {exc}") from None
    if request.format not in FORMAT_NAMES:
        raise InvalidSubscription(f"format: must be one of {', '.join(FORMAT_NAMES)}")
    if request.min_severity not in SEVERITY_RANK:
        raise InvalidSubscription(f"min_severity: must be one of {', '.join(SEVERITIES)}")
    if request.format == "pagerduty" and not request.routing_key:
        raise InvalidSubscription("routing_key: required for the pagerduty format")
    if request.secret_ref is not None and not secrets.is_reference(request.secret_ref):
        raise InvalidSubscription("secret_ref: must start with aws-sm:// or gcp-sm://")
    sub_id = str(uuid.uuid4())
    shown: str | None = None
    if request.secret_ref:
        stored = request.secret_ref
    else:
        shown = secrets.new_secret()
        stored = secrets.encrypt(settings, shown, context=sub_id)
    routing = (
        secrets.encrypt(settings, request.routing_key, context=f"{sub_id}:routing_key")
        if request.routing_key
        else None
    )
    sub = Subscription(
        id=sub_id,
        url=request.url,
        format=request.format,
        min_severity=request.min_severity,
        detectors=_clean(request.detectors),
        rules=_clean(request.rules),
        accounts=_clean(request.accounts),
        tags=_clean(request.tags),
        enabled=request.enabled,
        secret=stored,
        routing_key=routing,
        description=request.description,
        created_at=datetime.now(UTC),
    )
    session.add(sub)
    session.flush()
    return sub, shown


def _clean(values: Sequence[str] | None) -> list[str] | None:
    if not values:
        return None
    return list(dict.fromkeys(str(v) for v in values))


def get_subscription(session: Session, sub_id: str) -> Subscription | None:
    """One subscription by id."""
    return session.get(Subscription, sub_id)


def list_subscriptions(
    session: Session, *, limit: int = 50, cursor: str | None = None
) -> Page[Subscription]:
    """Subscriptions, newest first, one keyset page at a time."""
    order = [Order(Subscription.created_at), Order(Subscription.id)]
    return paginate(session, select(Subscription), order, limit=limit, cursor=cursor)


def delete_subscription(session: Session, sub_id: str) -> bool:
    """Remove a subscription and its deliveries (explicitly: SQLite may not enforce cascades)."""
    if session.get(Subscription, sub_id) is None:
        return False
    seqs = select(Delivery.seq).where(Delivery.subscription_id == sub_id)
    session.execute(delete(Attempt).where(Attempt.delivery_seq.in_(seqs)))
    session.execute(delete(Delivery).where(Delivery.subscription_id == sub_id))
    session.execute(delete(Subscription).where(Subscription.id == sub_id))
    return True


def signing_secret(settings: Settings, sub: Subscription) -> str:
    """The subscription's usable secret (decrypted or fetched); never logged."""
    return secrets.resolve(settings, sub.secret, context=sub.id)


def routing_key(settings: Settings, sub: Subscription) -> str | None:
    """The PagerDuty routing key, decrypted."""
    if not sub.routing_key:
        return None
    return secrets.decrypt(settings, sub.routing_key, context=f"{sub.id}:routing_key")


def rewrap_secrets(session: Session, settings: Settings) -> int:
    """Re-encrypt legacy ``v1:`` secrets and routing keys as ``v2`` (salted scrypt); returns
    how many subscriptions changed. Idempotent; flushes, does not commit."""
    legacy = or_(Subscription.secret.like("v1:%"), Subscription.routing_key.like("v1:%"))
    changed = 0
    for sub in session.scalars(select(Subscription).where(legacy)):
        if secrets.is_legacy(sub.secret):
            plain = secrets.decrypt(settings, sub.secret, context=sub.id)
            sub.secret = secrets.encrypt(settings, plain, context=sub.id)
        if secrets.is_legacy(sub.routing_key):
            context = f"{sub.id}:routing_key"
            plain = secrets.decrypt(settings, sub.routing_key or "", context=context)
            sub.routing_key = secrets.encrypt(settings, plain, context=context)
        changed += 1
    session.flush()
    return changed


def matches(sub: Subscription, alert: Alert) -> bool:
    """Whether ``alert`` passes the subscription's severity floor and every filter it sets.

    Suppressed alerts are kept by the store but announced to no one: that is what
    suppressing means.
    """
    if not sub.enabled or alert.status == "suppressed":
        return False
    if SEVERITY_RANK[alert.severity] < SEVERITY_RANK.get(sub.min_severity, 0):
        return False
    if sub.detectors and alert.detector not in sub.detectors:
        return False
    if sub.rules and alert.rule_id not in sub.rules:
        return False
    if sub.accounts and alert.account not in sub.accounts:
        return False
    return not (sub.tags and not set(sub.tags) & set(alert.tags))


def list_deliveries(
    session: Session,
    sub_id: str,
    *,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Delivery]:
    """A subscription's deliveries, newest first, optionally only those in ``status``."""
    query = select(Delivery).where(Delivery.subscription_id == sub_id)
    if status:
        query = query.where(Delivery.status == status)
    return paginate(session, query, [Order(Delivery.seq)], limit=limit, cursor=cursor)


def get_delivery(session: Session, sub_id: str, delivery_id: str) -> Delivery | None:
    """One delivery of a subscription by its public id."""
    query = select(Delivery).where(Delivery.subscription_id == sub_id, Delivery.id == delivery_id)
    return session.scalars(query).first()


def attempts_of(session: Session, delivery: Delivery) -> list[Attempt]:
    """The attempts of one delivery, in order."""
    query = select(Attempt).where(Attempt.delivery_seq == delivery.seq).order_by(Attempt.id)
    return list(session.scalars(query))
