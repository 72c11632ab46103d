"""API models for ``/v1/events``: the push result, and the search query and page."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from service.fields import ApiTime
from service.query import MAX_LIMIT


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


def _network(text: str) -> str:
    """An address or CIDR, checked here so a malformed one is a 422 naming ``source_ip``."""
    try:
        ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError("not an IP address or CIDR network (e.g. 203.0.113.0/24)") from None
    return text.strip()


Network = Annotated[str, Field(max_length=64), AfterValidator(_network)]
Text = Annotated[str, Field(max_length=2048)]


class EventQuery(BaseModel):
    """The search's query parameters, validated at once (one model, as the alert list)."""

    since: ApiTime | None = Field(
        default=None, description="from this time (UTC; default: until - 24 h)"
    )
    until: ApiTime | None = Field(default=None, description="before this time (UTC; default now)")
    provider: Literal["aws", "gcp"] | None = None
    account: Text | None = None
    principal: Text | None = None
    principal_type: (
        Literal["user", "role", "root", "service", "federated", "anonymous", "service_account"]
        | None
    ) = None
    service: Text | None = None
    action: Text | None = Field(default=None, description="normalized (no API-version suffix)")
    raw_action: Text | None = Field(default=None, description="as logged")
    resource: Text | None = None
    source_ip: Network | None = Field(default=None, description="an address or a CIDR network")
    user_agent: Text | None = Field(default=None, description="a substring, ignoring case")
    outcome: Literal["success", "failure"] | None = None
    error_code: Text | None = None
    include_raw: bool = Field(default=False, description="add each event's `raw` record")
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(
        default=None,
        max_length=3072,
        description="from `next_cursor` (it holds the last event's id, up to 2048 characters)",
    )


class EventItem(BaseModel):
    """One event of the event model (DESIGN.md); ``raw`` only with ``include_raw=true``."""

    model_config = ConfigDict(extra="allow")

    id: str
    time: datetime
    provider: str
    account: str | None
    region: str | None
    service: str | None
    action: str | None
    raw_action: str | None
    category: str | None
    principal: str | None
    principal_type: str | None
    session: str | None
    source_ip: str | None
    user_agent: str | None
    resource: str | None
    outcome: str | None
    error_code: str | None
    read_only: bool | None
    mfa: bool | None
    raw: dict[str, object] | None = Field(default=None, description="with include_raw=true")
    origin: str | None = Field(
        description="provenance: the source it was pulled from, or push:<key id>; null for "
        "events stored before origins were kept"
    )


class EventSearchPage(BaseModel):
    items: list[EventItem]
    next_cursor: str | None = Field(
        description="pass as `cursor` (with the same filters) for the next page; null at the end"
    )
