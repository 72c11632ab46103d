"""``pagerduty``: an Events API v2 event; the alert's dedup_key lets PagerDuty fold repeats too.

Resolved (and suppressed) and acknowledged alerts become ``resolve`` / ``acknowledge`` events for
the same dedup_key, so an incident closes when the analyst closes the alert; a reopened alert
triggers again (PagerDuty opens a new incident under the key once the old one is resolved).
"""

from __future__ import annotations

from typing import Any

from detectors.alert import Alert, short_hash
from service.webhooks.formats.base import RenderContext

_SEVERITY = {
    "info": "info",
    "low": "info",
    "medium": "warning",
    "high": "error",
    "critical": "critical",
}
_DEDUP_LIMIT = 255
_SUMMARY_LIMIT = 1024


def pagerduty_dedup_key(key: str) -> str:
    """The alert's dedup_key, or a stable digest of it when it is longer than PagerDuty allows."""
    if len(key) <= _DEDUP_LIMIT:
        return key
    return f"{key[:200]}#{short_hash(key)}"


def _action(alert: Alert, event: str) -> str:
    if event == "alert.updated" and alert.status in ("resolved", "suppressed"):
        return "resolve"
    if event == "alert.updated" and alert.status == "acknowledged":
        return "acknowledge"
    return "trigger"


class PagerDutyFormat:
    """Events API v2 (``POST https://events.pagerduty.com/v2/enqueue``)."""

    name = "pagerduty"

    def render(self, alert: Alert, ctx: RenderContext) -> dict[str, Any]:
        action = _action(alert, ctx.event)
        key = pagerduty_dedup_key(alert.dedup_key)
        body: dict[str, Any] = {
            "routing_key": ctx.routing_key or "",
            "event_action": action,
            "dedup_key": key,
        }
        if action != "trigger":
            return body
        summary = f"[{alert.severity}] {alert.title}"[:_SUMMARY_LIMIT]
        body["payload"] = {
            "summary": summary,
            "source": (alert.resource or alert.account or "functrail")[:255],
            "severity": _SEVERITY[alert.severity],
            "timestamp": alert.last_seen.isoformat(),
            "component": (alert.resource or "")[:255] or None,
            "group": (alert.account or "")[:255] or None,
            "class": alert.rule_id[:255],
            "custom_details": {
                "alert_id": alert.id,
                "event": ctx.event,
                "detector": alert.detector,
                "principal": alert.principal,
                "provider": alert.provider,
                "count": alert.count,
                "first_seen": alert.first_seen.isoformat(),
                "score": alert.score,
                "tags": alert.tags,
                "runbook": alert.runbook,
            },
        }
        body["payload"] = {k: v for k, v in body["payload"].items() if v is not None}
        body["client"] = "functrail"
        return body
