"""API models for rules and anomaly models."""

from __future__ import annotations

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
    origin: Literal["pack", "user"] = Field(
        description="functrail's pack, or a rule from the user's rules folder"
    )
    sigma_id: str | None = None


class RulePage(BaseModel):
    items: list[RuleOut]
    next_cursor: str | None = None
    load_errors: list[str] = Field(default_factory=list)


class RulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False}]})

    enabled: bool


class ModelPage(BaseModel):
    active: str | None
    items: list[dict[str, Any]] = Field(description="manifest of each registered version")
    next_cursor: str | None = None
