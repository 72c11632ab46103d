"""API models for suppressions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from service.fields import ApiTime, RequestBody

_EXAMPLE: dict[str, JsonValue] = {
    "rule_id": "aws_root_account_usage",
    "source_cidr": "203.0.113.0/24",
    "reason": "quarterly pen test from the red team range",
    "expires_at": "2026-04-01T00:00:00Z",
}


class SuppressionIn(RequestBody):
    """Every criterion given must match; at least one is required."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    rule_id: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00]*$")
    principal: str | None = Field(default=None, max_length=2048)
    resource: str | None = Field(default=None, max_length=2048)
    source_cidr: str | None = Field(default=None, max_length=64, description="address or CIDR")
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: ApiTime | None = None


class SuppressionPatch(RequestBody):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, min_length=1, max_length=2000)
    expires_at: ApiTime | None = None


class SuppressionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    rule_id: str | None
    principal: str | None
    resource: str | None
    source_cidr: str | None
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None


class SuppressionPage(BaseModel):
    items: list[SuppressionOut]
    next_cursor: str | None
