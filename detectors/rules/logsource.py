"""A Sigma ``logsource`` -> the rows a rule sees, or a loud refusal.

functrail reads two logs: AWS CloudTrail and Google Cloud's audit logs (plus the request logs of
Cloud Run and Cloud Functions). A rule written for another log (``product: windows``,
``product: azure``, ``category: process_creation``) would never match anything here; it is
refused at load instead of being kept as a rule that silently never fires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from detectors.rules.compile import UnsupportedRule
from detectors.rules.fields import RowScope

if TYPE_CHECKING:
    from sigma.rule import SigmaLogSource

_READ = (
    "functrail reads AWS CloudTrail (product: aws, service: cloudtrail) and Google Cloud audit"
    " logs (product: gcp, service: gcp.audit); product: functrail, service: audit means both"
)


def scope_of(logsource: SigmaLogSource) -> RowScope | None:
    """``aws``, ``gcp_audit`` or ``gcp`` (every Google Cloud event), or None for every event
    (``product: functrail``, the pack's cross-provider rules)."""
    product = (logsource.product or "").lower() or None
    service = (logsource.service or "").lower() or None
    category = (logsource.category or "").lower() or None
    if category is None:
        if product == "aws" and service in (None, "cloudtrail"):
            return "aws"
        if product is None and service == "cloudtrail":
            return "aws"
        if product in (None, "gcp") and service == "gcp.audit":
            return "gcp_audit"
        if product == "gcp" and service is None:
            return "gcp"
        if product == "functrail" and service in (None, "audit"):
            return None
    written = ", ".join(
        f"{key}: {value}"
        for key, value in (("product", product), ("service", service), ("category", category))
        if value
    )
    raise UnsupportedRule(f"logsource {{{written}}} is not a log functrail reads ({_READ})")
