from __future__ import annotations

from datetime import timedelta

from detectors.coverage import Thresholds, assess, coverage_alerts, logging_change
from pipelines.lake import EventLake
from pipelines.source_health import SourceHealth
from tests.detectors.coverage.conftest import (
    AT,
    BEGIN,
    gcp_fields,
    lambda_invokes,
    steady,
    store,
)
from tests.factories import event, user_arn

HOUR = timedelta(hours=1)


def alerts_of(lake: EventLake, **assess_args):
    report = assess(lake, AT, Thresholds(), **assess_args)
    return coverage_alerts(
        report,
        lambda item, finding: logging_change(
            lake, item.provider, item.account, finding.since, report.at
        ),
    )


def selector_change(**fields):
    """A trail change by mallory (PutEventSelectors unless ``action`` says otherwise)."""
    action = fields.pop("action", "PutEventSelectors")
    return event(
        service="cloudtrail.amazonaws.com",
        action=action,
        raw_action=action,
        category="modification",
        read_only=False,
        principal=user_arn("mallory"),
        resource="main-trail",
        **fields,
    )


def test_lambda_data_events_stopping_after_put_event_selectors_cite_the_change(lake):
    stop = AT - 12 * HOUR
    change = selector_change(time=stop - 5 * timedelta(minutes=1))
    store(lake, steady(BEGIN, AT, 4) + steady(BEGIN, stop, 4, **lambda_invokes()) + [change])
    [alert] = alerts_of(lake)
    assert (alert.detector, alert.rule_id, alert.severity) == (
        "coverage", "coverage_log_type_stopped", "high"
    )  # fmt: skip
    assert alert.title.startswith("Lambda data events of AWS account 210987654321 stopped 12 h")
    assert alert.title.endswith("after PutEventSelectors by user/mallory")
    assert alert.evidence.event_ids == [change["id"]]
    assert alert.principal == user_arn("mallory")
    assert alert.resource == "lambda_data"
    assert "T1562.008" in alert.tags
    assert [d.feature for d in alert.explanation or []] == [
        "hours_without_events", "logging_change"
    ]  # fmt: skip


def test_a_drop_with_no_logging_change_is_a_medium_alert_without_evidence(lake):
    store(lake, steady(BEGIN, AT, 4) + steady(BEGIN, AT - 12 * HOUR, 4, **lambda_invokes()))
    [alert] = alerts_of(lake)
    assert alert.severity == "medium"
    assert alert.evidence.event_ids == []
    assert "after" not in alert.title


def test_an_account_silent_after_stop_logging_cites_it(lake):
    stop = AT - 9 * HOUR
    stopped = selector_change(time=stop, action="StopLogging")
    store(lake, [*steady(BEGIN, stop, 4), stopped])
    [alert] = alerts_of(lake)
    assert alert.rule_id == "coverage_silent"
    assert alert.first_seen == stop
    assert alert.evidence.event_ids == [stopped["id"]]
    assert "after StopLogging by user/mallory" in alert.title


def test_data_access_logs_stopping_after_an_audit_config_change_cite_it(lake):
    stop = AT - 10 * HOUR
    audit_off = event(
        time=stop - HOUR,
        action="SetIamPolicy",
        raw_action="SetIamPolicy",
        **gcp_fields(
            "activity",
            raw={"protoPayload": {"serviceData": {"policyDelta": {"auditConfigDeltas": []}}}},
        ),
    )
    other_policy = event(
        time=stop, action="SetIamPolicy", raw_action="SetIamPolicy", **gcp_fields("activity")
    )
    store(
        lake,
        steady(BEGIN, AT, 2, **gcp_fields("activity"))
        + steady(BEGIN, stop, 2, **gcp_fields("data_access"))
        + [audit_off, other_policy],
    )
    [alert] = alerts_of(lake)
    assert alert.evidence.event_ids == [audit_off["id"]]
    assert alert.resource == "data_access"


def test_the_same_silence_found_again_is_the_same_alert_unchanged(lake):
    store(lake, steady(BEGIN, AT - 9 * HOUR, 4))
    [first] = alerts_of(lake)
    later = coverage_alerts(
        assess(lake, AT + 24 * HOUR, Thresholds()), lambda _item, _finding: None
    )
    assert [a.id for a in later] == [first.id]
    assert (later[0].first_seen, later[0].last_seen) == (first.first_seen, first.last_seen)


def test_a_failing_source_is_an_alert_keyed_by_when_it_began_failing(lake):
    source = SourceHealth(
        "s3://trail/AWSLogs/",
        failures=4,
        last_error="AccessDenied",
        last_failure="2026-03-16T11:00:00Z",
        failing_since="2026-03-15T11:00:00Z",
    )
    [alert] = alerts_of(lake, sources=[source])
    assert alert.rule_id == "coverage_source_failing"
    assert alert.title == "Source s3://trail/AWSLogs/ failed 4 pulls in a row"
    assert alert.first_seen == AT - 25 * HOUR
    assert "AccessDenied" in (alert.explanation or [])[0].detail
