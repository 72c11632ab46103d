"""Coverage findings as alerts (``detector: coverage``): an account gone silent, a log type
stopped, a volume drop, a source that keeps failing; tied to the logging change that caused
the drop when the account's own events hold one.

Ids are stable: an account's silence is keyed by the moment it began (its last event), and
``first_seen`` = ``last_seen`` = that moment, so finding it again (the next daily run, the
watcher's next hourly pass) is the same alert unchanged: no repeated ``alert.updated``
deliveries for one silence. Whether it still lasts is what ``GET /v1/coverage`` says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from detectors.alert import Alert, Deviation, Evidence, Severity, alert_id, dedup_key, short_hash
from detectors.coverage.assess import LOG_TYPE_TITLES, CoverageItem, CoverageReport, Finding
from pipelines.source_health import SourceHealth

DETECTOR: Final = "coverage"
RULE_IDS: Final = {
    "silent": "coverage_silent",
    "log_type_stopped": "coverage_log_type_stopped",
    "volume_drop": "coverage_volume_drop",
    "source_failing": "coverage_source_failing",
}
DISABLE_LOGS: Final = "T1562.008"
"""ATT&CK: Impair Defenses: Disable or Modify Cloud Logs."""
RUNBOOKS: Final = {
    "silent": (
        "1. Check that the account still exists and its trail (or sink) delivers: a stopped or "
        "deleted trail, a changed bucket policy, a failing source.\n"
        "2. If the evidence holds a logging change, ask its principal why; restore logging.\n"
        "3. Until logging is back, the detectors see nothing of this account: review what it "
        "did by other means (Config, Access Analyzer, Cloud Asset Inventory)."
    ),
    "log_type_stopped": (
        "1. Compare the trail's event selectors (aws cloudtrail get-event-selectors) or the "
        "project's audit config (gcloud projects get-iam-policy --format=json: auditConfigs) "
        "with what they were.\n"
        "2. If the evidence holds the change, ask its principal why; restore the log type.\n"
        "3. The rules listed under Coverage for this account are blind until it is back."
    ),
    "volume_drop": (
        "1. See which log types fell in the console's Coverage view.\n"
        "2. Check the source (delivery delays, a moved prefix, a new trail or sink) before "
        "assuming the workload changed."
    ),
    "source_failing": (
        "1. Run functrail ingest with the source to see the error.\n"
        "2. Fix credentials, permissions or the URI; until then its accounts are not scored."
    ),
}
ChangeLookup = Callable[[CoverageItem, Finding], dict[str, Any] | None]


def coverage_alerts(report: CoverageReport, change_for: ChangeLookup) -> list[Alert]:
    """One alert per finding and per failing source; ``change_for`` finds the logging change
    behind a finding (``detectors.coverage.changes.logging_change``)."""
    alerts = [
        _finding_alert(item, finding, report.at, change_for(item, finding))
        for item in report.items
        for finding in item.findings
    ]
    alerts += [_source_alert(source, report.at) for source in report.failing_sources]
    return alerts


def _finding_alert(
    item: CoverageItem, finding: Finding, at: datetime, change: dict[str, Any] | None
) -> Alert:
    rule_id = RULE_IDS[finding.kind]
    key = dedup_key(DETECTOR, rule_id, item.provider, item.account, finding.log_type)
    severity: Severity = "low" if finding.kind == "volume_drop" else "medium"
    usual = f"~{finding.baseline_per_day:,.0f} events a day"
    explanation = [
        Deviation(
            feature="hours_without_events" if finding.kind != "volume_drop" else "events_24h",
            observed=round(finding.hours, 1)
            if finding.kind != "volume_drop"
            else finding.events_24h,
            baseline=usual,
            detail=finding.reason,
        )
    ]
    tags = ["coverage"]
    evidence = Evidence()
    principal = None
    title = _title(item, finding)
    if change is not None:
        severity = "high"
        tags.insert(0, DISABLE_LOGS)
        principal = change.get("principal")
        evidence = Evidence(event_ids=[str(change["id"])], sample=[change])
        who = _short(principal)
        title += f" after {change.get('raw_action') or change.get('action')} by {who}"
        explanation.append(
            Deviation(
                feature="logging_change",
                observed=str(change.get("action")),
                baseline="no change to the account's logging",
                detail=f"{change.get('raw_action')} by {principal} at {change.get('time')} "
                f"(event {change['id']})",
            )
        )
    return Alert(
        id=alert_id(key, finding.since),
        dedup_key=key,
        detector=DETECTOR,
        rule_id=rule_id,
        title=title,
        severity=severity,
        score=0.9 if change is not None else 0.6,
        provider=item.provider,
        account=item.account,
        principal=principal,
        resource=finding.log_type,
        first_seen=finding.since,
        last_seen=finding.since,
        tags=tags,
        evidence=evidence,
        explanation=explanation,
        runbook=RUNBOOKS[finding.kind],
    )


def _title(item: CoverageItem, finding: Finding) -> str:
    where = f"{'AWS account' if item.provider == 'aws' else 'Project'} {item.account}"
    if finding.kind == "silent":
        return f"{where} sent no events for {finding.hours:.0f} h"
    if finding.kind == "log_type_stopped":
        name = LOG_TYPE_TITLES.get(finding.log_type or "", finding.log_type)
        return f"{name} of {where} stopped {finding.hours:.0f} h ago"
    usual = f"{finding.baseline_per_day:,.0f}"
    return f"{where} sent {finding.events_24h:,} events in 24 h, usually ~{usual}"


def _source_alert(source: SourceHealth, at: datetime) -> Alert:
    rule_id = RULE_IDS["source_failing"]
    key = dedup_key(DETECTOR, rule_id, short_hash(source.uri))
    since = _parse(source.failing_since) or at
    return Alert(
        id=alert_id(key, since),
        dedup_key=key,
        detector=DETECTOR,
        rule_id=rule_id,
        title=f"Source {source.uri} failed {source.failures} pulls in a row",
        severity="medium",
        score=0.6,
        resource=source.uri,
        first_seen=min(since, at),
        last_seen=min(since, at),
        tags=["coverage"],
        explanation=[
            Deviation(
                feature="failed_pulls",
                observed=source.failures,
                baseline="0 failures in a row",
                detail=f"last error at {source.last_failure}: {source.last_error}",
            )
        ],
        runbook=RUNBOOKS["source_failing"],
    )


def _short(principal: object) -> str:
    """``arn:aws:iam::123:user/alice`` -> ``user/alice``; an e-mail stays as it is."""
    text = str(principal or "an unknown principal")
    return text.rsplit(":", 1)[-1] if text.startswith("arn:") else text


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None
