"""The one protocol every webhook format implements: an alert and an event in, a JSON body out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from detectors.alert import Alert, Disposition

EventName = Literal["alert.created", "alert.updated", "test"]
EVENTS: tuple[EventName, ...] = ("alert.created", "alert.updated", "test")


@dataclass(frozen=True, slots=True)
class RenderContext:
    """What a format may need besides the alert: the event and per-subscription options."""

    event: EventName
    delivery_id: str
    routing_key: str | None = None
    status_change: bool = False
    """an ``alert.updated`` an analyst's triage queued (status or verdict), not a fold"""


class DeliveredAlert(Alert):
    """The alert as a delivery carries it: the contract plus the analyst's verdict, so a
    receiver closing its incident learns why (null until one is given)."""

    disposition: Disposition | None = None


class Format(Protocol):
    """A body builder for one kind of receiver (Slack, PagerDuty, a SIEM taking OCSF ...)."""

    name: str

    def render(self, alert: Alert, ctx: RenderContext) -> dict[str, Any]:
        """The JSON document to POST for ``alert``; never raises on hostile field values."""
        ...
