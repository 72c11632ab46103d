"""A user's Sigma rule, as SigmaHQ publishes them, loads with sensible defaults."""

from __future__ import annotations

import pytest

from detectors.rules.engine import run_rules
from tests.detectors.rules.sigma.kit import load_text, normalized, user_rule
from tests.factories import cloudtrail_record

NAMELESS = """\
title: Lambda function URL added {{by someone}}
id: 0d9d5e0e-2f43-4c43-9a44-3b8e0c6c1a01
status: experimental
description: A function got a public URL.
author: a user
date: 2025-01-01
tags:
    - attack.initial-access
    - attack.t1190
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: lambda.amazonaws.com
        eventName: CreateFunctionUrlConfig
    condition: selection
falsepositives:
    - Admins
level: {level}
"""


def test_rule_without_name_is_known_by_its_sigma_id(tmp_path):
    rule = user_rule(tmp_path, NAMELESS.format(level="medium"))
    assert rule.meta.rule_id == "0d9d5e0e-2f43-4c43-9a44-3b8e0c6c1a01"
    assert rule.meta.sigma_id == rule.meta.rule_id
    assert not rule.meta.named
    assert not rule.meta.builtin


def test_rule_with_a_name_is_known_by_its_name(tmp_path):
    text = NAMELESS.format(level="low").replace("status:", "name: my_url_rule\nstatus:")
    assert user_rule(tmp_path, text).meta.rule_id == "my_url_rule"


@pytest.mark.parametrize(
    ("level", "severity", "score"),
    [
        ("informational", "info", 0.1),
        ("low", "low", 0.3),
        ("medium", "medium", 0.5),
        ("high", "high", 0.75),
        ("critical", "critical", 0.95),
    ],
)
def test_level_gives_severity_and_default_score(tmp_path, level, severity, score):
    meta = user_rule(tmp_path, NAMELESS.format(level=level)).meta
    assert (meta.severity, meta.score) == (severity, score)


def test_defaults_without_a_functrail_block(tmp_path):
    meta = user_rule(tmp_path, NAMELESS.format(level="high")).meta
    assert meta.title == "Lambda function URL added {by someone}"
    assert meta.tags == ("attack.initial-access", "T1190")
    assert meta.dedup == ("account", "principal", "resource")
    assert meta.title_template is None
    assert meta.runbook is None


def test_alert_title_is_the_rule_title_verbatim(tmp_path):
    rule = user_rule(tmp_path, NAMELESS.format(level="high"))
    record = cloudtrail_record(
        eventName="CreateFunctionUrlConfig20211031",
        requestParameters={"functionName": "billing", "authType": "NONE"},
    )
    [alert] = run_rules(normalized(record), [rule])
    # braces in a title that is not a template are text, never placeholders
    assert alert.title == "Lambda function URL added {by someone}"
    assert alert.rule_id == "0d9d5e0e-2f43-4c43-9a44-3b8e0c6c1a01"
    assert (alert.severity, alert.score) == ("high", 0.75)


def test_construct_the_engine_cannot_evaluate_is_refused_naming_file_rule_and_construct(
    tmp_path,
):
    text = NAMELESS.format(level="low").replace(
        "eventName: CreateFunctionUrlConfig", "userAgent|expand: '%admin_tools%'"
    )
    loaded = load_text(tmp_path, text)
    assert loaded.rules == []
    [error] = loaded.errors
    assert error.source.endswith(".yml")
    assert "rule 0d9d5e0e-2f43-4c43-9a44-3b8e0c6c1a01" in error.reason
    assert "%admin_tools%" in error.reason
    assert "|expand" in error.reason


CHAINED = """\
title: Denied calls
id: 1b2c3d4e-5f60-4a71-8b92-a3b4c5d6e7f8
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        errorCode: AccessDenied
    condition: selection
level: low
---
title: Many denied calls
id: 2b2c3d4e-5f60-4a71-8b92-a3b4c5d6e7f8
correlation:
    type: event_count
    rules: [1b2c3d4e-5f60-4a71-8b92-a3b4c5d6e7f8]
    group-by: [userIdentity.arn]
    timespan: 10m
    condition: {gte: 20}
level: medium
---
title: Many bursts
id: 3b2c3d4e-5f60-4a71-8b92-a3b4c5d6e7f8
correlation:
    type: event_count
    rules: [2b2c3d4e-5f60-4a71-8b92-a3b4c5d6e7f8]
    group-by: [userIdentity.arn]
    timespan: 1h
    condition: {gte: 3}
level: high
"""


def test_chained_correlation_is_refused_and_its_bases_still_load(tmp_path):
    loaded = load_text(tmp_path, CHAINED)
    assert [r.meta.rule_id for r in loaded.rules] == [
        "1b2c3d4e-5f60-4a71-8b92-a3b4c5d6e7f8",
        "2b2c3d4e-5f60-4a71-8b92-a3b4c5d6e7f8",
    ]
    [error] = loaded.errors
    assert "rule 3b2c3d4e-5f60-4a71-8b92-a3b4c5d6e7f8" in error.reason
    assert "2b2c3d4e-5f60-4a71-8b92-a3b4c5d6e7f8" in error.reason.split(":", 1)[1]


def test_correlation_by_id_groups_by_a_raw_field(tmp_path):
    loaded = load_text(tmp_path, CHAINED.split("---")[0] + "---" + CHAINED.split("---")[1])
    assert not loaded.errors
    base, burst = loaded.rules
    assert not base.meta.generate  # a base rule raises nothing on its own (Sigma's default)
    denied = [cloudtrail_record(errorCode="AccessDenied", eventName=f"List{i}") for i in range(20)]
    alerts = run_rules(normalized(*denied, cloudtrail_record()), loaded.rules)
    assert [(a.rule_id, a.count) for a in alerts] == [(burst.meta.rule_id, 20)]
