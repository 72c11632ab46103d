"""Webhook formats, registered in one place: ``FORMATS[name].render(alert, ctx)``."""

from __future__ import annotations

from service.webhooks.formats.base import EVENTS, EventName, Format, RenderContext
from service.webhooks.formats.generic import GenericFormat
from service.webhooks.formats.ocsf import OcsfFormat
from service.webhooks.formats.pagerduty import PagerDutyFormat
from service.webhooks.formats.slack import SlackFormat

FORMATS: dict[str, Format] = {
    f.name: f for f in (GenericFormat(), SlackFormat(), PagerDutyFormat(), OcsfFormat())
}
FORMAT_NAMES: tuple[str, ...] = tuple(FORMATS)

__all__ = ["EVENTS", "FORMATS", "FORMAT_NAMES", "EventName", "Format", "RenderContext"]
