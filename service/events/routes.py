"""``/v1/events``: search the lake (``GET``, viewer and above) and push raw records (``POST``,
ingest keys only: any supported input format, one record or many)."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from pipelines.lake import EventLake
from pipelines.normalize import Batch, normalize_blob
from pipelines.settings import Settings
from service.api.deps import Ingest, State, Viewer
from service.api.direct import DirectRoute
from service.api.errors import Problem
from service.api.state import ApiState
from service.events.schemas import EventQuery, EventSearchPage, IngestResult, RejectOut
from service.events.search import SearchRejected, page_json, search

router = APIRouter(prefix="/v1/events", tags=["events"])

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": 'CloudTrail `{"Records": [...]}`, LookupEvents, EventBridge, JSON lines, '
        "LogEntry / gcloud arrays / sink lines / Pub/Sub push; gzip or not.",
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "example": {
                    "Records": [
                        {
                            "eventVersion": "1.09",
                            "eventID": "c0a80001-0000-4000-8000-000000000001",
                            "eventTime": "2026-03-02T10:00:00Z",
                            "eventSource": "lambda.amazonaws.com",
                            "eventName": "AddPermission20150331v2",
                            "awsRegion": "eu-central-1",
                            "recipientAccountId": "210987654321",
                            "userIdentity": {
                                "type": "IAMUser",
                                "arn": "arn:aws:iam::210987654321:user/sam",
                            },
                        }
                    ]
                },
            }
        },
    }
}


@router.post("", summary="push raw audit records (ingest keys)", openapi_extra=_BODY_DOC)
async def post_events(request: Request, state: State, key: Ingest) -> IngestResult:
    body = await request.body()
    if not body:
        raise Problem(422, "empty body: send audit records", kind="validation")
    batch, stored = await run_in_threadpool(_ingest, body, f"api:{key.name}", state.settings)
    state.metrics.ingest.labels("accepted").inc(len(batch.events))
    state.metrics.ingest.labels("rejected").inc(len(batch.rejects))
    rejects = [
        RejectOut(source=r.source, index=r.index, reason=r.reason) for r in batch.rejects[:100]
    ]
    return IngestResult(
        accepted=len(batch.events), stored=stored, rejected=len(batch.rejects), rejects=rejects
    )


def _ingest(body: bytes, source: str, settings: Settings) -> tuple[Batch, int]:
    from pipelines.lake import EventLake

    batch = normalize_blob(body, source, settings=settings)
    stored = EventLake(settings.lake_root).append(batch.events) if len(batch.events) else 0
    return batch, stored


SearchQuery = Annotated[EventQuery, Query()]


async def search_route(state: State, _: Viewer, query: SearchQuery) -> Response:
    # A lake scan is file reads and decoding: in a thread, a few at a time per process.
    try:
        body = await anyio.to_thread.run_sync(_search, state, query, limiter=state.lake_slots)
    except SearchRejected as exc:
        error = {"type": "value_error", "loc": ("query", exc.parameter), "msg": exc.message}
        raise RequestValidationError([error]) from None
    return Response(body, media_type="application/json")


router.add_api_route(
    "",
    search_route,
    methods=["GET"],
    summary="search the lake's events, newest first (viewer)",
    description="Filters are exact values except `source_ip` (an address or CIDR network) and "
    "`user_agent` (a substring, any case). The window defaults to the last 24 hours and may "
    "span at most 31 days. `raw` is included only with `include_raw=true`.",
    response_model=EventSearchPage,
    route_class_override=DirectRoute,
)


def _search(state: ApiState, query: EventQuery) -> bytes:
    return page_json(search(_lake(state), query))


def _lake(state: ApiState) -> EventLake:
    lake = state.cache.get("lake")
    if lake is None:
        lake = state.cache["lake"] = EventLake(state.settings.lake_root)
    assert isinstance(lake, EventLake)
    return lake
