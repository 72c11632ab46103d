"""``/v1/webhooks`` (admin): subscriptions, test sends, delivery history and replay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from detectors.alert import Alert, Evidence
from service.api.deps import Admin, Session, State
from service.api.errors import Problem
from service.query import MAX_LIMIT
from service.webhooks import outbox, store
from service.webhooks.models import Delivery, Subscription
from service.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    Replayed,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPage,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=512)]


def _subscription(session: Session, webhook_id: str) -> Subscription:
    sub = store.get_subscription(session, webhook_id)
    if sub is None:
        raise Problem(404, "no such webhook", kind="not-found")
    return sub


def _delivery(session: Session, webhook_id: str, delivery_id: str) -> Delivery:
    delivery = store.get_delivery(session, webhook_id, delivery_id)
    if delivery is None:
        raise Problem(404, "no such delivery for this webhook", kind="not-found")
    return delivery


@router.post("", status_code=201, summary="subscribe a receiver; the secret is shown this once")
def create(session: Session, state: State, _: Admin, body: WebhookIn) -> WebhookCreated:
    request = store.NewSubscription(**body.model_dump())
    try:
        sub, secret = store.create_subscription(session, state.settings, request)
    except store.InvalidSubscription as exc:
        raise Problem(422, str(exc), kind="validation") from None
    out = WebhookCreated.model_validate(
        WebhookOut.model_validate(sub).model_dump() | {"secret": secret}
    )
    session.commit()
    return out


@router.get("", summary="subscriptions, newest first")
def list_(session: Session, _: Admin, limit: Limit = 50, cursor: Cursor = None) -> WebhookPage:
    page = store.list_subscriptions(session, limit=limit, cursor=cursor)
    items = [WebhookOut.model_validate(row) for row in page.items]
    return WebhookPage(items=items, next_cursor=page.next_cursor)


@router.get("/{webhook_id}")
def get(session: Session, _: Admin, webhook_id: str) -> WebhookOut:
    return WebhookOut.model_validate(_subscription(session, webhook_id))


@router.delete("/{webhook_id}", status_code=204, response_class=Response)
def delete(session: Session, _: Admin, webhook_id: str) -> Response:
    if not store.delete_subscription(session, webhook_id):
        raise Problem(404, "no such webhook", kind="not-found")
    session.commit()
    return Response(status_code=204)


@router.post("/{webhook_id}/test", status_code=202, summary="queue a signed `test` delivery")
def test(session: Session, _: Admin, webhook_id: str) -> DeliveryOut:
    sub = _subscription(session, webhook_id)
    delivery = outbox.enqueue_test(session, sub, sample_alert())
    out = DeliveryOut.model_validate(delivery)
    session.commit()
    return out


@router.get("/{webhook_id}/deliveries", summary="delivery history, newest first")
def deliveries(
    session: Session,
    _: Admin,
    webhook_id: str,
    status: DeliveryStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeliveryPage:
    _subscription(session, webhook_id)
    page = store.list_deliveries(session, webhook_id, status=status, limit=limit, cursor=cursor)
    items = [DeliveryOut.model_validate(row) for row in page.items]
    return DeliveryPage(items=items, next_cursor=page.next_cursor)


@router.get("/{webhook_id}/deliveries/{delivery_id}", summary="one delivery with its attempts")
def delivery(session: Session, _: Admin, webhook_id: str, delivery_id: str) -> DeliveryDetail:
    row = _delivery(session, webhook_id, delivery_id)
    attempts = [AttemptOut.model_validate(a) for a in store.attempts_of(session, row)]
    return DeliveryDetail.model_validate(
        DeliveryOut.model_validate(row).model_dump() | {"attempt_log": attempts}
    )


@router.post("/{webhook_id}/replay", summary="requeue every dead delivery of the webhook")
def replay_all(session: Session, _: Admin, webhook_id: str) -> Replayed:
    _subscription(session, webhook_id)
    count = outbox.replay(session, webhook_id)
    session.commit()
    return Replayed(replayed=count)


@router.post("/{webhook_id}/deliveries/{delivery_id}/replay", summary="requeue one dead delivery")
def replay_one(session: Session, _: Admin, webhook_id: str, delivery_id: str) -> Replayed:
    row = _delivery(session, webhook_id, delivery_id)
    if row.status != "dead":
        raise Problem(409, f"only dead deliveries can be replayed (this one is {row.status})")
    count = outbox.replay(session, webhook_id, delivery_id)
    session.commit()
    return Replayed(replayed=count)


def sample_alert() -> Alert:
    """What a ``test`` delivery carries: a plausible alert, clearly marked as a test."""
    now = datetime.now(UTC)
    return Alert(
        id=f"test-{now.strftime('%Y%m%dT%H%M%S')}",
        dedup_key="test|functrail_webhook_test",
        detector="rule",
        rule_id="functrail_webhook_test",
        title="functrail webhook test: this is not an attack",
        severity="info",
        score=1.0,
        provider="aws",
        account="000000000000",
        principal="functrail",
        resource="webhook-test",
        first_seen=now,
        last_seen=now,
        tags=["test"],
        evidence=Evidence(),
        runbook="Nothing to do: a functrail admin sent a test delivery.",
    )
