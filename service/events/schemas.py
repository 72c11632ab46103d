"""API models for ``POST /v1/events``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RejectOut(BaseModel):
    source: str
    index: int | None
    reason: str


class IngestResult(BaseModel):
    accepted: int = Field(description="records normalized")
    stored: int = Field(description="of those, new to the lake (repeats are deduplicated by id)")
    rejected: int
    rejects: list[RejectOut] = Field(description="the first 100 rejects, with their reasons")
