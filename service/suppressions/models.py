"""ORM for suppressions: every given criterion must match (rule, principal, resource, CIDR)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, SafeText, UTCDateTime, utcnow


class SuppressionRow(Base):
    __tablename__ = "suppressions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rule_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    principal: Mapped[str | None] = mapped_column(SafeText, nullable=True)
    resource: Mapped[str | None] = mapped_column(SafeText, nullable=True)
    source_cidr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(SafeText)
    created_by: Mapped[str] = mapped_column(SafeText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
