"""``generic``: the alert as the API returns it, wrapped with the event name."""

from __future__ import annotations

from typing import Any

from detectors.alert import Alert
from service.webhooks.formats.base import RenderContext


class GenericFormat:
    """For receivers written against functrail itself: the whole Alert contract, as JSON."""

    name = "generic"

    def render(self, alert: Alert, ctx: RenderContext) -> dict[str, Any]:
        return {
            "event": ctx.event,
            "delivery_id": ctx.delivery_id,
            "alert": alert.model_dump(mode="json"),
        }
