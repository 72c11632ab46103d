"""API models for ``POST /v1/events``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RejectOut(BaseModel):
    source: str
    index: int | None
    reason: str


class IngestResult(BaseModel):
    accepted: int = Field(description="records normalized and inside the key's scope and window")
    queued: int = Field(
        description="of those, written to the durable push log (all of them: the answer waits "
        "for the fsync); the writer stores them in the lake within about a second, dropping "
        "repeats of a stored id and raising event_id_conflict for a different record"
    )
    rejected: int
    rejects: list[RejectOut] = Field(description="the first 100 rejects, with their reasons")
