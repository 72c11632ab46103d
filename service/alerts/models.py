"""ORM for alerts and their triage history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, SafeText, UTCDateTime, utcnow

_LIST_ORDER = ("last_seen", "id", "severity_rank", "updated_at", "shadow")


class AlertRow(Base):
    """One alert. ``dedup_hash`` (sha256 of ``dedup_key``) is what indexes look up: keys built
    from attacker-chosen names can be longer than a btree entry allows."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dedup_key: Mapped[str] = mapped_column(SafeText)
    dedup_hash: Mapped[str] = mapped_column(String(64))
    detector: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(SafeText)
    severity: Mapped[str] = mapped_column(String(16))
    severity_rank: Mapped[int] = mapped_column(SmallInteger)
    score: Mapped[float] = mapped_column(Float)
    provider: Mapped[str | None] = mapped_column(String(16))
    account: Mapped[str | None] = mapped_column(SafeText)
    principal: Mapped[str | None] = mapped_column(SafeText)
    resource: Mapped[str | None] = mapped_column(SafeText)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="open")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    explanation: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    runbook: Mapped[str | None] = mapped_column(SafeText, nullable=True)
    assignee: Mapped[str | None] = mapped_column(SafeText, nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    shadow: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """raised by a rule (or the model) in shadow mode: kept and counted, never listed by
    default nor delivered; set when the alert is made and never changed"""

    __table_args__ = (
        # the list's filters (migration 0003): walk in (last_seen, id) order, severity in the index
        # The list's order, then what its key read needs (migration 0004): no table row.
        # shadow last (0011): the lists' default ``shadow = false`` is read from the index.
        Index("ix_alerts_last_seen_id_severity", *_LIST_ORDER),
        Index("ix_alerts_dedup_hash_last_seen", "dedup_hash", "last_seen"),
        Index("ix_alerts_status_last_seen_id", "status", *_LIST_ORDER),
        Index("ix_alerts_rule_last_seen_id", "rule_id", *_LIST_ORDER),
        Index("ix_alerts_detector_last_seen_id", "detector", *_LIST_ORDER),
        # the summary's by_disposition (0012): only alerts with a verdict, covering the filters
        # that have list indexes of their own
        Index(
            "ix_alerts_disposition",
            "disposition",
            "shadow",
            "severity_rank",
            "last_seen",
            "status",
            "rule_id",
            "detector",
            postgresql_where=text("disposition IS NOT NULL"),
            sqlite_where=text("disposition IS NOT NULL"),
        ),
    )


class AlertCountRow(Base):
    """How many stored alerts have each (severity, status): kept by the writers in the
    transaction of each change (``service.alerts.counts``), so ``/metrics`` reads ~20 rows
    instead of grouping every alert per scrape (~1 s at 1M alerts)."""

    __tablename__ = "alert_counts"

    severity: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class TriageRow(Base):
    """One triage action on an alert: who changed status/assignee or wrote a note, and when."""

    __tablename__ = "alert_triage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(SafeText)
    status_from: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status_to: Mapped[str | None] = mapped_column(String(16), nullable=True)
    assignee_from: Mapped[str | None] = mapped_column(SafeText, nullable=True)
    assignee_to: Mapped[str | None] = mapped_column(SafeText, nullable=True)
    note: Mapped[str | None] = mapped_column(SafeText, nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(16), nullable=True)
