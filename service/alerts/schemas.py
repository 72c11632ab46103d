"""API models for alerts: the list page, one alert with its triage history, PATCH, summary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from detectors.alert import Severity, Status
from service.alerts.queries import AlertFilter
from service.alerts.store import StoredAlert

Text200 = Annotated[str | None, Query(max_length=200)]
Text2k = Annotated[str | None, Query(max_length=2048)]


class AlertPage(BaseModel):
    items: list[StoredAlert]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )


class TriageOut(BaseModel):
    at: datetime
    actor: str
    status_from: str | None
    status_to: str | None
    assignee_from: str | None
    assignee_to: str | None
    note: str | None


class AlertDetail(StoredAlert):
    history: list[TriageOut] = Field(default_factory=list)


class AlertPatch(BaseModel):
    """What an analyst changes; fields left out stay as they are (``assignee: null`` unassigns)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"status": "acknowledged", "assignee": "kim", "note": "looking"}]
        },
    )

    status: Status | None = None
    assignee: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=10_000)


class AlertSummary(BaseModel):
    total: int
    by_severity: dict[str, int]
    by_status: dict[str, int]
    by_detector: dict[str, int]
    by_day: dict[str, int]


class AlertEvents(BaseModel):
    items: list[dict[str, Any]] = Field(description="normalized events, `raw` the record as logged")
    missing: list[str] = Field(description="evidence ids not (or no longer) in the lake")


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def alert_filter(
    severity: Annotated[Severity | None, Query(description="minimum severity")] = None,
    status: Status | None = None,
    detector: Annotated[str | None, Query(max_length=64)] = None,
    rule_id: Text200 = None,
    provider: Annotated[str | None, Query(max_length=16)] = None,
    account: Text2k = None,
    principal: Text2k = None,
    resource: Text2k = None,
    since: Annotated[datetime | None, Query(description="last_seen at or after (UTC)")] = None,
    until: Annotated[datetime | None, Query(description="last_seen before (UTC)")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="text in title/principal/resource/rule")
    ] = None,
) -> AlertFilter:
    """The alert filters as query parameters (shared by the list and the summary)."""
    return AlertFilter(
        severity=severity,
        status=status,
        detector=detector,
        rule_id=rule_id,
        provider=provider,
        account=account,
        principal=principal,
        resource=resource,
        since=_utc(since),
        until=_utc(until),
        q=q,
    )
