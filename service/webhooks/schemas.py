"""API models for ``/v1/webhooks``: what an admin sends, and what the API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from detectors.alert import Severity
from service.fields import RequestBody

FormatName = Literal["generic", "slack", "pagerduty", "ocsf"]
DeliveryStatus = Literal["pending", "delivering", "delivered", "dead"]
_Names = list[str] | None

_EXAMPLE: dict[str, JsonValue] = {
    "url": "https://hooks.example.com/functrail",
    "format": "generic",
    "min_severity": "high",
    "rules": ["aws_lambda_public_add_permission"],
    "accounts": ["210987654321"],
}


class WebhookIn(RequestBody):
    """A new subscription; every filter given must match (lists match any of their values)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    url: str = Field(min_length=8, max_length=2048, description="http(s) receiver")
    format: FormatName = "generic"
    min_severity: Severity = "info"
    detectors: _Names = Field(default=None, max_length=50)
    rules: _Names = Field(default=None, max_length=500)
    accounts: _Names = Field(default=None, max_length=500)
    tags: _Names = Field(default=None, max_length=100)
    enabled: bool = True
    secret_ref: str | None = Field(
        default=None,
        max_length=512,
        description="read the signing secret from aws-sm://NAME or gcp-sm://projects/... "
        "instead of generating one",
    )
    routing_key: str | None = Field(
        default=None, min_length=1, max_length=128, description="PagerDuty integration key"
    )
    description: str | None = Field(default=None, max_length=200)


class WebhookOut(BaseModel):
    """A subscription as listed: never its secret or routing key."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    format: str
    min_severity: str
    detectors: _Names
    rules: _Names
    accounts: _Names
    tags: _Names
    enabled: bool
    description: str | None
    created_at: datetime


class WebhookCreated(WebhookOut):
    """The answer to a create: the signing secret, shown this once (null for a vault ref)."""

    secret: str | None


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    started_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    """One outbox row; ``id`` is the ``X-Functrail-Delivery`` header receivers see."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    alert_id: str
    event: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    finished_at: datetime | None
    last_status_code: int | None
    last_error: str | None


class DeliveryDetail(DeliveryOut):
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class Replayed(BaseModel):
    replayed: int = Field(description="dead deliveries put back in the queue")
