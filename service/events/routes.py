"""``/v1/events``: search the lake (``GET``, viewer and above; ``search.py``) and push raw
records (``POST``, ingest keys only): any supported input format, one record or many.

Each record is stored with ``origin`` ``push:<key id>``; a record outside the key's scopes
makes the push a 403, one dated outside the window is a reject (``admit``). The records are
appended to the push log and the answer waits for its fsync: acknowledged means durable. The
data folder's one writer moves them to the lake within about a second (docs/ingest-writer.md).
"""

from __future__ import annotations

from typing import Annotated

import anyio
import pyarrow as pa
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from pipelines.events import pushed_origin
from pipelines.normalize import normalize_table
from pipelines.parse.decompress import decompress
from pipelines.pushlog import PushLogError
from pipelines.rejects import Reject
from pipelines.settings import Settings
from service.api.deps import Ingest, State, Viewer
from service.api.direct import DirectRoute
from service.api.errors import Problem
from service.api.state import ApiState
from service.db import utcnow
from service.events.admit import outside_scopes, scope_detail, within_window
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
    origin = pushed_origin(key.id)
    # Parsing holds a few times the inflated body: at most ``push_slots`` pushes at once per
    # process, so a burst of large pushes queues instead of multiplying the peak.
    events, rejects = await anyio.to_thread.run_sync(
        _normalize, body, origin, state.settings, limiter=state.push_slots
    )
    outside = outside_scopes(events, key)
    if outside:
        raise Problem(403, scope_detail(outside, key), kind="outside-scope")
    events, dated = within_window(
        events, origin, now=utcnow(), retention_days=state.settings.retention_days
    )
    rejects += dated
    if events.num_rows:
        try:
            await state.pushlog.append_async(events)  # answered only once on disk
        except PushLogError as exc:
            raise Problem(
                503, f"{exc}; nothing was stored, push again", headers={"Retry-After": "1"}
            ) from None
        state.drainer.appended(events.num_rows)
    state.metrics.ingest.labels("accepted").inc(events.num_rows)
    state.metrics.ingest.labels("rejected").inc(len(rejects))
    shown = [RejectOut(source=r.source, index=r.index, reason=r.reason) for r in rejects[:100]]
    return IngestResult(
        accepted=events.num_rows, queued=events.num_rows, rejected=len(rejects), rejects=shown
    )


def _normalize(body: bytes, origin: str, settings: Settings) -> tuple[pa.Table, list[Reject]]:
    done = normalize_table(inflate(body, settings), origin, settings=settings)
    return done.table, done.rejects


def inflate(body: bytes, settings: Settings) -> bytes:
    """The body inflated if gzip, streamed against ``max_push_bytes``: a bomb is a 413 having
    held ~16 MiB, never the bytes it claims."""
    inflated = decompress(body, settings.max_push_bytes, limit_name="max_push_bytes")
    if inflated.too_large:
        raise Problem(413, f"the body {inflated.error}", kind="too-large")
    # A truncated or corrupt stream (within the limit) goes on as sent: the normalizer keeps
    # its complete records and names the break in a reject.
    return body if inflated.error else inflated.data


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
    return page_json(search(state.lake(), query))
