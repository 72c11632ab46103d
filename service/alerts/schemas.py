"""API models for alerts: the list page, one alert with its triage history, PATCH, summary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from detectors.alert import Disposition, Severity, Status
from service.alerts.queries import AlertFilter
from service.alerts.store import StoredAlert
from service.fields import ApiTime, RequestBody
from service.query import MAX_LIMIT


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
    disposition: str | None = None


class AlertDetail(StoredAlert):
    history: list[TriageOut] = Field(default_factory=list)


class AlertPatch(RequestBody):
    """What an analyst changes; fields left out stay as they are (``assignee: null`` unassigns)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": "acknowledged", "assignee": "kim", "note": "looking"},
                {"status": "resolved", "disposition": "false_positive", "note": "CI role"},
            ]
        },
    )

    status: Status | None = None
    assignee: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=10_000)
    disposition: Disposition | None = Field(
        default=None, description="the verdict, only when resolving (or on a resolved alert)"
    )


class AlertSummary(BaseModel):
    total: int
    by_severity: dict[str, int]
    by_status: dict[str, int]
    by_detector: dict[str, int]
    by_day: dict[str, int]
    by_disposition: dict[str, int] = Field(
        description="resolved alerts by the analyst's verdict (every verdict, zeros included)"
    )


class AlertEvents(BaseModel):
    items: list[dict[str, Any]] = Field(description="normalized events, `raw` the record as logged")
    missing: list[str] = Field(description="evidence ids not (or no longer) in the lake")


class AlertQuery(BaseModel):
    """The alert filters as query parameters (shared by the list and the summary).

    One model, validated at once by pydantic: FastAPI's per-parameter path cost ~2 ms of
    Python per request for these eleven.
    """

    severity: Severity | None = Field(default=None, description="minimum severity")
    status: Status | None = None
    detector: str | None = Field(default=None, max_length=64)
    rule_id: str | None = Field(default=None, max_length=200)
    provider: str | None = Field(default=None, max_length=16)
    account: str | None = Field(default=None, max_length=2048)
    principal: str | None = Field(default=None, max_length=2048)
    resource: str | None = Field(default=None, max_length=2048)
    since: ApiTime | None = Field(default=None, description="last_seen at or after (UTC)")
    until: ApiTime | None = Field(default=None, description="last_seen before (UTC)")
    q: str | None = Field(
        default=None, max_length=200, description="text in title/principal/resource/rule"
    )
    include_shadow: bool = Field(
        default=False, description="also the alerts of rules (or the model) in shadow mode"
    )


class AlertListQuery(AlertQuery):
    """The list's query: the filters, the page size and the cursor."""

    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=512, description="from `next_cursor`")


async def alert_filter(query: Annotated[AlertQuery, Query()]) -> AlertFilter:
    """The filters of the request's query (the summary's dependency)."""
    return to_filter(query)


def to_filter(query: AlertQuery) -> AlertFilter:
    """The ``AlertFilter`` of a query (times are UTC already: ``ApiTime``)."""
    return AlertFilter(
        severity=query.severity,
        status=query.status,
        detector=query.detector,
        rule_id=query.rule_id,
        provider=query.provider,
        account=query.account,
        principal=query.principal,
        resource=query.resource,
        since=query.since,
        until=query.until,
        q=query.q,
        include_shadow=query.include_shadow,
    )
