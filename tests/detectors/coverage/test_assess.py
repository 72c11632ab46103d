from __future__ import annotations

from datetime import timedelta

from detectors.coverage import Thresholds, assess, data_event_rules
from detectors.rules.loader import load_rules
from pipelines.source_health import SourceHealth
from tests.detectors.coverage.conftest import (
    AT,
    BEGIN,
    gcp_fields,
    lambda_invokes,
    steady,
    store,
)
from tests.factories import ACCOUNT

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
RULES = data_event_rules(load_rules().rules)


def only(report):
    [item] = report.items
    return item


def test_an_account_sending_as_usual_is_ok_with_its_daily_baseline(lake):
    store(lake, steady(BEGIN, AT, 4))
    item = only(assess(lake, AT, Thresholds()))
    assert (item.provider, item.account, item.status, item.reasons) == ("aws", ACCOUNT, "ok", [])
    assert item.events_24h == 96
    assert item.baseline_per_day == 96.0
    assert item.last_event == AT - HOUR / 4
    assert [(t.name, t.events_24h) for t in item.log_types] == [("management", 96)]


def test_an_account_that_stopped_sending_hours_ago_is_silent(lake):
    store(lake, steady(BEGIN, AT - 10 * HOUR, 4))
    item = only(assess(lake, AT, Thresholds()))
    assert item.status == "silent"
    [reason] = item.reasons
    assert reason == (
        "no events for 10 h, when ~41 usually come (~96 a day); last at 2026-03-16T01:45:00Z"
    )


def test_a_short_quiet_spell_is_not_silence(lake):
    store(lake, steady(BEGIN, AT - 4 * HOUR, 4))
    assert only(assess(lake, AT, Thresholds())).status == "ok"


def test_a_sparse_account_is_judged_by_its_own_gaps(lake):
    # 24 events a day: five usual gaps are 5 h, so the 6 h floor decides; at 12 a day (every
    # 2 h) five usual gaps are 10 h, and 8 h of quiet is nothing yet
    store(lake, steady(BEGIN, AT - 8 * HOUR, 1))
    assert only(assess(lake, AT, Thresholds(min_daily=10))).status == "silent"


def test_a_sparse_account_quiet_for_fewer_than_five_of_its_gaps_is_ok(lake):
    store(lake, steady(BEGIN, AT - 6 * HOUR, 1)[::2])  # the last at AT - 8 h
    assert only(assess(lake, AT, Thresholds(min_daily=10))).status == "ok"


def test_an_account_sending_fewer_than_the_minimum_a_day_is_never_silent(lake):
    store(lake, steady(BEGIN, AT - 20 * HOUR, 1))
    assert only(assess(lake, AT, Thresholds(min_daily=48))).status == "ok"


def test_a_log_type_that_stopped_degrades_the_account_and_names_the_type(lake):
    store(lake, steady(BEGIN, AT, 4) + steady(BEGIN, AT - 12 * HOUR, 4, **lambda_invokes()))
    item = only(assess(lake, AT, Thresholds()))
    assert item.status == "degraded"
    [finding] = item.findings
    assert (finding.kind, finding.log_type) == ("log_type_stopped", "lambda_data")
    assert item.reasons[0].startswith(
        "lambda_data: no Lambda data events for 12 h, when ~49 usually come (~96 a day)"
    )
    types = {t.name: t for t in item.log_types}
    assert types["lambda_data"].events_24h == 48
    assert types["management"].events_24h == 96


def test_a_volume_drop_without_a_stopped_type_degrades_the_account(lake):
    store(lake, steady(BEGIN, AT - 24 * HOUR, 40) + steady(AT - 24 * HOUR, AT, 2))
    item = only(assess(lake, AT, Thresholds()))
    assert item.status == "degraded"
    assert [f.kind for f in item.findings] == ["volume_drop"]
    assert "48 events in the last 24 h, 5% of the usual ~960 a day" in item.reasons[0]


def test_a_new_account_has_a_baseline_over_the_days_it_has_sent(lake):
    store(lake, steady(AT - 3 * timedelta(days=1), AT, 4))
    assert only(assess(lake, AT, Thresholds())).baseline_per_day == 96.0


def test_each_google_log_type_is_seen_apart(lake):
    store(
        lake,
        steady(BEGIN, AT, 2, **gcp_fields("activity"))
        + steady(BEGIN, AT - 14 * HOUR, 2, **gcp_fields("data_access")),
    )
    item = only(assess(lake, AT, Thresholds(), data_rules=RULES))
    assert [t.name for t in item.log_types] == ["activity", "data_access"]
    assert item.status == "degraded"
    assert item.findings[0].log_type == "data_access"


def test_rules_that_need_data_events_are_listed_where_none_came_in_24_hours(lake):
    store(lake, steady(BEGIN, AT, 2, **gcp_fields("activity")))
    store(lake, steady(BEGIN, AT, 2, **gcp_fields("data_access", project="has-data-access")))
    items = {i.account: i for i in assess(lake, AT, Thresholds(), data_rules=RULES).items}
    assert "gcp_secret_manager_bulk_access" in items["shop-prod"].rules_without_data
    assert "aws_s3_object_acl_public" not in items["shop-prod"].rules_without_data
    assert items["has-data-access"].rules_without_data == []


def test_only_sources_failing_often_enough_are_reported(lake):
    sources = [
        SourceHealth("s3://trail/AWSLogs/", failures=3, last_error="AccessDenied"),
        SourceHealth("gcp-logging://shop-prod", failures=1, last_error="timeout"),
    ]
    report = assess(lake, AT, Thresholds(source_failures=3), sources=sources)
    assert [s.uri for s in report.failing_sources] == ["s3://trail/AWSLogs/"]
    assert report.items == []


def test_events_after_the_assessed_moment_are_not_counted(lake):
    store(lake, steady(BEGIN, AT + 6 * HOUR, 4))
    item = only(assess(lake, AT - 10 * HOUR, Thresholds()))
    assert item.events_24h == 96
    assert item.last_event < AT - 10 * HOUR


def test_an_account_quiet_every_night_is_not_silent_at_night_but_is_by_day(lake):
    office_hours = [
        row
        for day in range(16)
        for row in steady(BEGIN.replace(hour=8) + day * DAY, BEGIN.replace(hour=18) + day * DAY, 6)
    ]
    store(lake, [row for row in office_hours if row["time"] < AT.replace(hour=7)])
    night = AT.replace(hour=7)  # 13 h after the last event of yesterday
    assert only(assess(lake, night, Thresholds())).status == "ok"
    assert only(assess(lake, AT.replace(hour=11), Thresholds())).status == "silent"
