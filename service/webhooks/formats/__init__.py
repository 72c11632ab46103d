"""Webhook formats, registered in one place: ``FORMATS[name].render(alert, ctx)``."""

from __future__ import annotations

import json
from typing import Any

import orjson

from service.webhooks.formats.base import (
    EVENTS,
    DeliveredAlert,
    EventName,
    Format,
    RenderContext,
)
from service.webhooks.formats.generic import GenericFormat
from service.webhooks.formats.ocsf import OcsfFormat
from service.webhooks.formats.pagerduty import PagerDutyFormat
from service.webhooks.formats.slack import SlackFormat

FORMATS: dict[str, Format] = {
    f.name: f for f in (GenericFormat(), SlackFormat(), PagerDutyFormat(), OcsfFormat())
}
FORMAT_NAMES: tuple[str, ...] = tuple(FORMATS)


def encode_body(document: dict[str, Any]) -> bytes:
    """UTF-8 JSON; lone surrogates (hostile input can carry them) become "?", not an error."""
    try:
        return orjson.dumps(document)
    except TypeError:
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)
        return text.encode("utf-8", "replace")


__all__ = [
    "EVENTS",
    "FORMATS",
    "FORMAT_NAMES",
    "DeliveredAlert",
    "EventName",
    "Format",
    "RenderContext",
    "encode_body",
]
