"""API models for rules and anomaly models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RuleOut(BaseModel):
    rule_id: str
    title: str
    kind: str
    severity: str
    score: float
    tags: list[str]
    description: str
    runbook: str | None
    enabled: bool
    mode: Literal["live", "shadow"] = Field(
        default="live",
        description="`shadow`: the rule runs and its alerts are stored marked shadow, "
        "left out of lists and never delivered",
    )
    origin: Literal["pack", "user"] = Field(
        description="functrail's pack, or a rule from the user's rules folder"
    )
    sigma_id: str | None = None


class RulePage(BaseModel):
    items: list[RuleOut]
    next_cursor: str | None = None
    load_errors: list[str] = Field(default_factory=list)


class RulePatch(BaseModel):
    """What an admin changes; fields left out stay as they are (at least one is needed)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"enabled": False}, {"mode": "shadow"}]},
    )

    enabled: bool | None = None
    mode: Literal["live", "shadow"] | None = None


class ModelPatch(BaseModel):
    """The anomaly model's mode: ``shadow`` keeps scoring and storing, but pages no one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"mode": "shadow"}]})

    mode: Literal["live", "shadow"]


class ModelPage(BaseModel):
    active: str | None
    mode: Literal["live", "shadow"] = Field(
        default="live", description="the anomaly model's mode (`PATCH /v1/models`)"
    )
    items: list[dict[str, Any]] = Field(description="manifest of each registered version")
    next_cursor: str | None = None


class RuleDayOut(BaseModel):
    day: date = Field(description="UTC day of the alerts' `last_seen`")
    alerts: int
    shadow: int = Field(description="of `alerts`, those raised in shadow mode")
    by_disposition: dict[str, int]


class RuleStatsOut(BaseModel):
    """A rule's alerts per day over the window, live and shadow alike, with their verdicts."""

    rule_id: str
    enabled: bool | None = Field(description="null for an id that is not a loaded rule")
    mode: Literal["live", "shadow"] | None = Field(
        description="null for an id that is not a loaded rule"
    )
    days: int
    since: datetime
    until: datetime
    alerts: int
    shadow: int
    by_disposition: dict[str, int] = Field(
        description="verdicts given on resolve (every verdict, zeros included)"
    )
    by_day: list[RuleDayOut] = Field(description="oldest first, one item per day")
