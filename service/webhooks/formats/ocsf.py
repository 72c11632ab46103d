"""``ocsf``: an OCSF Detection Finding (class_uid 2004, category Findings) for SIEMs and lakes.

Built against OCSF 1.3: activity Create/Update/Close, severity and status ids, ``finding_info``
with the rule as its analytic and ATT&CK technique tags as ``attacks``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from detectors.alert import Alert
from service.webhooks.formats.base import RenderContext

OCSF_VERSION = "1.3.0"
CLASS_UID = 2004
CATEGORY_UID = 2
_SEVERITY_ID = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
_SEVERITY_NAME = {
    "info": "Informational",
    "low": "Low",
    "medium": "Medium",
    "high": "High",
    "critical": "Critical",
}
_STATUS_ID = {"open": 1, "acknowledged": 2, "suppressed": 3, "resolved": 4}
_STATUS_NAME = {1: "New", 2: "In Progress", 3: "Suppressed", 4: "Resolved"}
_ACTIVITY_NAME = {1: "Create", 2: "Update", 3: "Close"}
_VERDICT = {
    "true_positive": "Resolved: true positive",
    "false_positive": "Resolved: false positive",
    "benign": "Resolved: benign",
}
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")
_ANALYTIC_TYPE = {"rule": (1, "Rule"), "anomaly": (3, "Statistical")}


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _activity(alert: Alert, event: str) -> int:
    if event == "alert.updated" and alert.status == "resolved":
        return 3
    return 2 if event == "alert.updated" else 1


class OcsfFormat:
    """One Detection Finding per delivery; ``finding_info.uid`` is the alert id."""

    name = "ocsf"

    def render(self, alert: Alert, ctx: RenderContext) -> dict[str, Any]:
        activity = _activity(alert, ctx.event)
        status_id = _STATUS_ID[alert.status]
        analytic_type_id, analytic_type = _ANALYTIC_TYPE.get(alert.detector, (99, "Other"))
        attacks = [
            {"technique": {"uid": tag, "name": tag}, "version": "14"}
            for tag in alert.tags
            if _TECHNIQUE.match(tag)
        ]
        finding: dict[str, Any] = {
            "uid": alert.id,
            "title": alert.title,
            "desc": alert.runbook,
            "types": [alert.detector],
            "created_time": _ms(alert.first_seen),
            "first_seen_time": _ms(alert.first_seen),
            "last_seen_time": _ms(alert.last_seen),
            "analytic": {
                "uid": alert.rule_id,
                "name": alert.rule_id,
                "type_id": analytic_type_id,
                "type": analytic_type,
            },
            "related_events": [{"uid": uid} for uid in alert.evidence.event_ids[:100]],
        }
        if attacks:
            finding["attacks"] = attacks
        body: dict[str, Any] = {
            "class_uid": CLASS_UID,
            "class_name": "Detection Finding",
            "category_uid": CATEGORY_UID,
            "category_name": "Findings",
            "activity_id": activity,
            "activity_name": _ACTIVITY_NAME[activity],
            "type_uid": CLASS_UID * 100 + activity,
            "severity_id": _SEVERITY_ID[alert.severity],
            "severity": _SEVERITY_NAME[alert.severity],
            "status_id": status_id,
            "status": _STATUS_NAME[status_id],
            "time": _ms(alert.last_seen),
            "count": alert.count,
            "confidence_score": round(alert.score * 100),
            "message": alert.title,
            "metadata": {
                "version": OCSF_VERSION,
                "uid": ctx.delivery_id,
                "product": {"name": "functrail", "vendor_name": "functrail"},
                "correlation_uid": alert.dedup_key,
            },
            "finding_info": {k: v for k, v in finding.items() if v is not None},
            "unmapped": {"functrail_event": ctx.event},
        }
        disposition = getattr(alert, "disposition", None)
        if disposition:
            body["status_detail"] = _VERDICT[disposition]
            body["unmapped"]["functrail_disposition"] = disposition
        if alert.provider:
            cloud: dict[str, Any] = {"provider": alert.provider.upper()}
            if alert.account:
                cloud["account"] = {"uid": alert.account}
            body["cloud"] = cloud
        if alert.resource:
            body["resources"] = [{"name": alert.resource, "uid": alert.resource}]
        if alert.principal:
            body["actor"] = {"user": {"name": alert.principal, "uid": alert.principal}}
        return body
