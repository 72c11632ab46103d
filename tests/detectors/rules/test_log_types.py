"""Which audit logs each rule reads: derived from its records, declared, and shown in the docs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from detectors.rules.loader import load_file, load_rules
from detectors.rules.log_types import (
    BEGIN,
    END,
    log_type_table,
    needs_data_events,
    positive_log_types,
    record_log_type,
    rewrite,
    rule_log_types,
)
from tests.detectors.rules.rulekit import rule_yaml
from tests.factories import cloudtrail_record, log_entry, request_log

DOC = Path(__file__).resolve().parents[3] / "docs" / "sources-and-lake.md"
LOADED = load_rules()
S3 = "s3.amazonaws.com"
LOGS = "projects/p/logs/cloudaudit.googleapis.com"


def test_the_doc_table_is_the_packs_own():
    text = DOC.read_text(encoding="utf-8")
    shown = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert shown == log_type_table(LOADED.rules), (
        "docs/sources-and-lake.md is out of date: run "
        "`python -m detectors.rules.log_types docs/sources-and-lake.md`"
    )


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (cloudtrail_record(), "management"),
        (cloudtrail_record(eventName="Invoke", eventCategory="Data"), "lambda_data"),
        (cloudtrail_record(eventName="Invoke", eventCategory=None), "lambda_data"),  # older
        (cloudtrail_record(eventSource=S3, eventName="GetObject", eventCategory=None), "s3_data"),
        (
            cloudtrail_record(eventSource="dynamodb.amazonaws.com", eventCategory="Data"),
            "other_data",
        ),
        (
            cloudtrail_record(eventName="GetBucketPolicy", eventSource="s3.amazonaws.com"),
            "management",
        ),
        (log_entry(), "activity"),
        (
            log_entry(logName="projects/p/logs/cloudaudit.googleapis.com%2Fdata_access"),
            "data_access",
        ),
        (
            log_entry(logName="projects/p/logs/cloudaudit.googleapis.com%2Fsystem_event"),
            "system_event",
        ),
        (log_entry(logName="organizations/1/logs/cloudaudit.googleapis.com%2Fpolicy"), "policy"),
        (request_log(), "request"),
        (log_entry(logName="projects/p/logs/syslog"), None),
    ],
)
def test_a_raw_record_says_which_log_it_comes_from(record, kind):
    assert record_log_type(record) == kind


def test_a_declared_data_log_makes_a_rule_require_data_events(tmp_path):
    doc = rule_yaml(
        {"selection": {"action": "Invoke"}, "condition": "selection"},
        functrail={"log_types": ["lambda_data"]},
    )
    path = tmp_path / "r.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    [rule] = load_file(path).rules
    assert rule.meta.log_types == ("lambda_data",)
    assert rule.meta.requires_data_events


def test_an_unknown_log_type_is_a_load_error_naming_it(tmp_path):
    doc = rule_yaml(
        {"selection": {"action": "Invoke"}, "condition": "selection"},
        functrail={"log_types": ["lamda_data"]},
    )
    path = tmp_path / "r.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    loaded = load_file(path)
    assert loaded.rules == []
    assert "lamda_data" in loaded.errors[0].reason


@pytest.mark.parametrize(
    "rule", [r for r in LOADED.rules if r.meta.log_types], ids=lambda r: r.meta.rule_id
)
def test_a_rule_declaring_log_types_declares_those_of_its_positive_records(rule):
    assert set(positive_log_types(rule.meta)) <= set(rule.meta.log_types)


@pytest.mark.parametrize("rule", LOADED.rules, ids=lambda r: r.meta.rule_id)
def test_requires_data_events_says_whether_the_rule_reads_only_data_event_logs(rule):
    """The doc's "(only)" and the flag mean the same: the rule cannot fire without them."""
    types = rule_log_types(rule.meta)
    assert rule.meta.requires_data_events == needs_data_events(types), types


def test_rewrite_refuses_a_page_without_the_markers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("no table here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="log-types"):
        rewrite(page, LOADED.rules)


def test_rewrite_replaces_only_the_generated_block(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(f"before\n{BEGIN}\nstale\n{END}\nafter\n", encoding="utf-8")
    assert rewrite(page, LOADED.rules)
    text = page.read_text(encoding="utf-8")
    assert text.startswith("before\n")
    assert text.endswith("\nafter\n")
    assert "stale" not in text
    assert not rewrite(page, LOADED.rules)
