"""``POST /v1/events`` (ingest keys only): any supported input format, one record or many."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request

from pipelines.normalize import Batch, normalize_blob
from pipelines.parse.decompress import decompress
from pipelines.settings import Settings
from service.api.deps import Ingest, State
from service.api.errors import Problem
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
    # Parsing holds a few times the inflated body: at most ``push_slots`` pushes at once per
    # process, so a burst of large pushes queues instead of multiplying the peak.
    batch, stored = await anyio.to_thread.run_sync(
        _ingest, body, f"api:{key.name}", state.settings, limiter=state.push_slots
    )
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

    batch = normalize_blob(inflate(body, settings), source, settings=settings)
    stored = EventLake(settings.lake_root).append(batch.events) if len(batch.events) else 0
    return batch, stored


def inflate(body: bytes, settings: Settings) -> bytes:
    """The body inflated if gzip, streamed against ``max_push_bytes``: a bomb is a 413 having
    held ~16 MiB, never the bytes it claims."""
    inflated = decompress(body, settings.max_push_bytes, limit_name="max_push_bytes")
    if inflated.too_large:
        raise Problem(413, f"the body {inflated.error}", kind="too-large")
    # A truncated or corrupt stream (within the limit) goes on as sent: the normalizer keeps
    # its complete records and names the break in a reject.
    return body if inflated.error else inflated.data
