"""``GET /v1/coverage`` (viewer): which accounts still send what they used to."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Query

from service.api.deps import State, Viewer
from service.api.state import ApiState
from service.coverage.report import coverage_report
from service.coverage.schemas import CoveragePage, page_out
from service.db import utcnow
from service.fields import ApiTime
from service.rules.store import rule_states

router = APIRouter(prefix="/v1/coverage", tags=["coverage"])


@router.get(
    "",
    summary="coverage per (provider, account): ok, silent or degraded, with reasons (viewer)",
    description="Compares each account's last 24 hours with the days before "
    "(FUNCTRAIL_COVERAGE_BASELINE_DAYS), from the event counts the lake's writers keep: "
    "`silent` when an account that usually sends stopped for hours, `degraded` when a log "
    "type it sent stopped or its volume fell under a tenth of usual. `at` assesses another "
    "moment (default now).",
)
async def coverage(
    state: State,
    _: Viewer,
    at: Annotated[ApiTime | None, Query(description="assess as of this time (UTC)")] = None,
) -> CoveragePage:
    moment = at or utcnow()
    # Reads ~15 small counts files per provider: in a thread, a few at a time per process.
    return await anyio.to_thread.run_sync(_page, state, moment, limiter=state.lake_slots)


def _page(state: ApiState, at: datetime) -> CoveragePage:
    lake = state.lake()
    with state.db.session() as session:
        enabled = rule_states(session)
    report = coverage_report(lake, state.settings, at, state.rules(), enabled)
    return page_out(report)
