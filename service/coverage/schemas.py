"""API models for ``/v1/coverage``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from detectors.coverage import CoverageItem, CoverageReport
from pipelines.source_health import SourceHealth


class LogTypeOut(BaseModel):
    name: str = Field(description="management, lambda_data, s3_data; activity, data_access, ...")
    last_event: datetime
    events_24h: int
    baseline_per_day: float


class CoverageItemOut(BaseModel):
    provider: str
    account: str
    last_event: datetime
    events_24h: int
    baseline_per_day: float = Field(description="events a day over the days before the last 24 h")
    log_types: list[LogTypeOut] = Field(description="the log types seen in the window")
    status: Literal["ok", "silent", "degraded"]
    reasons: list[str]
    rules_without_data: list[str] = Field(
        description="rules that read only data-event logs this account sent none of in 24 h"
    )


class SourceOut(BaseModel):
    uri: str
    failures: int = Field(description="failed pulls in a row")
    last_error: str | None
    last_failure: str | None
    last_success: str | None


class CoveragePage(BaseModel):
    items: list[CoverageItemOut]
    next_cursor: str | None = None
    at: datetime = Field(description="the moment coverage was assessed at")
    failing_sources: list[SourceOut] = Field(
        description="sources whose last pulls failed (FUNCTRAIL_COVERAGE_SOURCE_FAILURES or more)"
    )


def item_out(item: CoverageItem) -> CoverageItemOut:
    return CoverageItemOut(
        provider=item.provider,
        account=item.account,
        last_event=item.last_event,
        events_24h=item.events_24h,
        baseline_per_day=item.baseline_per_day,
        log_types=[
            LogTypeOut(
                name=t.name,
                last_event=t.last_event,
                events_24h=t.events_24h,
                baseline_per_day=t.baseline_per_day,
            )
            for t in item.log_types
        ],
        status=item.status,
        reasons=item.reasons,
        rules_without_data=item.rules_without_data,
    )


def source_out(source: SourceHealth) -> SourceOut:
    return SourceOut(
        uri=source.uri,
        failures=source.failures,
        last_error=source.last_error,
        last_failure=source.last_failure,
        last_success=source.last_success,
    )


def page_out(report: CoverageReport) -> CoveragePage:
    return CoveragePage(
        items=[item_out(i) for i in report.items],
        at=report.at,
        failing_sources=[source_out(s) for s in report.failing_sources],
    )
