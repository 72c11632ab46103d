"""``slack``: a Block Kit message for an incoming webhook, safe against hostile alert fields.

Attackers choose user agents, function names and principals, and those reach the alert's
title, resource and evidence. Slack's mrkdwn turns ``<!channel>`` into a mention and
``<https://x|text>`` into a disguised link, so every such value is escaped (``&``, ``<``,
``>``), its ``@`` mentions broken with a zero-width joiner, and shown as inline code.
"""

from __future__ import annotations

import re
from typing import Any

from detectors.alert import Alert
from service.webhooks.formats.base import RenderContext

_SEVERITY_EMOJI = {
    "info": ":information_source:",
    "low": ":large_blue_circle:",
    "medium": ":large_orange_circle:",
    "high": ":red_circle:",
    "critical": ":rotating_light:",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_MENTION = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
_FIELD_LIMIT = 300
_HEADER_LIMIT = 150


def escape_mrkdwn(value: object, limit: int = _FIELD_LIMIT) -> str:
    """Text Slack shows literally: control chars flattened, entities escaped, mentions broken."""
    text = _CONTROL.sub(" ", str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@\u2060", text)


def code(value: object | None) -> str:
    """An escaped value as inline code, so URLs are not auto-linked and ``*_~`` do nothing."""
    if value is None or value == "":
        return "—"
    return "`" + escape_mrkdwn(value).replace("`", "'") + "`"


def _plain(value: object, limit: int) -> str:
    text = _CONTROL.sub(" ", str(value))
    text = _MENTION.sub("@\u2060", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SlackFormat:
    """Title in a plain-text header (never parsed), the entity as escaped code fields."""

    name = "slack"

    def render(self, alert: Alert, ctx: RenderContext) -> dict[str, Any]:
        if ctx.status_change:
            return _status_update(alert)
        verb = {"alert.created": "New", "alert.updated": "Updated", "test": "Test"}[ctx.event]
        emoji = _SEVERITY_EMOJI[alert.severity]
        fields = [
            f"*Severity*\n{emoji} {alert.severity}",
            f"*Rule*\n{code(alert.rule_id)}",
            f"*Principal*\n{code(alert.principal)}",
            f"*Resource*\n{code(alert.resource)}",
            f"*Account*\n{code(alert.account)} ({code(alert.provider)})",
            f"*Seen*\n{alert.count}x, last {alert.last_seen.isoformat()}",
        ]
        blocks: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _plain(alert.title, _HEADER_LIMIT)},
            },
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        ]
        if alert.tags:
            tags = ", ".join(code(t) for t in alert.tags[:10])
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": tags}]})
        if alert.runbook:
            runbook = "*Runbook*\n" + escape_mrkdwn(alert.runbook, 1500)
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": runbook},
                }
            )
        footer = f"{verb} alert {code(alert.id)} status {code(alert.status)}"
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": footer}],
            }
        )
        return {
            "text": f"{verb} {alert.severity} alert: {escape_mrkdwn(alert.title)}",
            "blocks": blocks,
            "unfurl_links": False,
            "unfurl_media": False,
        }


_STATUS_EMOJI = {
    "open": ":arrows_counterclockwise:",
    "acknowledged": ":eyes:",
    "resolved": ":white_check_mark:",
    "suppressed": ":mute:",
}
_VERDICT = {
    "true_positive": "true positive",
    "false_positive": "false positive",
    "benign": "benign",
}


def _status_update(alert: Alert) -> dict[str, Any]:
    """An analyst's status change as a short message of its own. Incoming webhooks answer
    ``ok``, not the first message's ``ts``, so it cannot be threaded under it: it names the
    alert (title, id) instead."""
    status = "reopened" if alert.status == "open" else alert.status
    disposition = getattr(alert, "disposition", None)
    verdict = f" as {_VERDICT[disposition]}" if disposition in _VERDICT else ""
    line = (
        f"{_STATUS_EMOJI[alert.status]} *{status}*{verdict}: "
        f"{escape_mrkdwn(alert.title, _HEADER_LIMIT)}"
    )
    footer = f"alert {code(alert.id)} rule {code(alert.rule_id)} severity {code(alert.severity)}"
    return {
        "text": f"Alert {status}{verdict}: {escape_mrkdwn(alert.title)}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": line}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]},
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }
