"""``POST /v1/events`` (ingest keys only): any supported input format, one record or many.

Each record is stored with ``origin`` ``push:<key id>``; a record outside the key's scopes
makes the push a 403, one dated outside the window is a reject (``admit``). The records are
appended to the push log and the answer waits for its fsync: acknowledged means durable. The
data folder's one writer moves them to the lake within about a second (docs/ingest-writer.md).
"""

from __future__ import annotations

import anyio
import pyarrow as pa
from fastapi import APIRouter, Request

from pipelines.events import pushed_origin
from pipelines.normalize import normalize_table
from pipelines.parse.decompress import decompress
from pipelines.pushlog import PushLogError
from pipelines.rejects import Reject
from pipelines.settings import Settings
from service.api.deps import Ingest, State
from service.api.errors import Problem
from service.db import utcnow
from service.events.admit import outside_scopes, scope_detail, within_window
from service.events.schemas import IngestResult, RejectOut

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
