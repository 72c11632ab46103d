"""ORM for rule switches: a rule without a row is enabled and live; the anomaly model's mode."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow


class RuleStateRow(Base):
    __tablename__ = "rule_states"

    rule_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    mode: Mapped[str] = mapped_column(String(16), default="live", server_default="live")
    """``live`` pages; ``shadow`` runs and stores its alerts marked shadow, and delivers none"""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(Text)


class ModelStateRow(Base):
    """An anomaly detector family's mode (``detector`` is the alerts' ``detector``, ``anomaly``):
    the model is not a rule, but is tried in shadow the same way."""

    __tablename__ = "model_states"

    detector: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16), default="live", server_default="live")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(Text)
