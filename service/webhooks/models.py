"""Webhook tables: subscriptions, the delivery outbox, and one row per delivery attempt.

The outbox row is written in the same transaction as the alert it announces, carries the
alert as it was then (rendered the same way on every retry), and is claimed with a lease so several
dispatchers never send the same attempt twice; a crashed dispatcher's lease simply expires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, SafeText, UTCDateTime

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
SeqId = BigInteger().with_variant(Integer(), "sqlite")

PENDING = "pending"
DELIVERING = "delivering"
DELIVERED = "delivered"
DEAD = "dead"
DELIVERY_STATES = (PENDING, DELIVERING, DELIVERED, DEAD)


class Subscription(Base):
    """A receiver and what it wants: format, minimum severity, optional filters.

    ``secret`` is AES-GCM ciphertext (``v1:...``) or a vault reference (``aws-sm://``,
    ``gcp-sm://``); ``routing_key`` (PagerDuty) is ciphertext too. See ``secrets``.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    url: Mapped[str] = mapped_column(SafeText)
    format: Mapped[str] = mapped_column(String(16))
    min_severity: Mapped[str] = mapped_column(String(16), default="info")
    detectors: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    rules: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    accounts: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    tags: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str] = mapped_column(Text)
    routing_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    description: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"Subscription(id={self.id!r}, format={self.format!r})"


class Delivery(Base):
    """One message for one subscription: retried until delivered or dead, replayable."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "alert_id", "change_key", name="uq_webhook_delivery"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_alert", "subscription_id", "alert_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(SeqId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    alert_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))
    change_key: Mapped[str] = mapped_column(String(200))
    alert: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retry_from: Mapped[datetime] = mapped_column(UTCDateTime())
    retry_base: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(SafeText, nullable=True)


class Attempt(Base):
    """One POST of a delivery: when, how it ended, how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(SeqId, primary_key=True, autoincrement=True)
    delivery_seq: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.seq", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(SafeText, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    dispatcher: Mapped[str | None] = mapped_column(String(64), nullable=True)


def as_dict(row: Any) -> dict[str, Any]:
    """Column values of a row (for schemas and tests)."""
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}
