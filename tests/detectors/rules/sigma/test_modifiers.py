"""Every pySigma value modifier that applies to audit logs, evaluated as Sigma defines it."""

from __future__ import annotations

import base64

import pytest

from tests.detectors.rules.sigma.kit import load_text, matches, user_rule
from tests.factories import cloudtrail_record


def rule_of(tmp_path, selection: str, condition: str = "selection"):
    return user_rule(
        tmp_path,
        f"""\
title: modifier check
id: 51f0b2de-8c7a-4d6b-9f41-6f1c2a7d3e20
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
{selection}
    condition: {condition}
level: low
""",
    )


def with_agent(agent: str) -> dict:
    return cloudtrail_record(userAgent=agent)


def with_params(**params) -> dict:
    return cloudtrail_record(requestParameters=params)


@pytest.mark.parametrize(
    ("selection", "agents", "expected"),
    [
        ("        userAgent|contains: TruffleHog", ["x TruffleHog y", "trufflehog", "curl"],
         [True, True, False]),
        ("        userAgent|startswith: Boto3/", ["Boto3/1.34", "x Boto3/1", "boto3/2"],
         [True, False, True]),
        ("        userAgent|endswith: '(S3 Browser)'", ["v1 (S3 Browser)", "(S3 Browser) v1",
         "(s3 browser)"], [True, False, True]),
        ("        userAgent|contains|all:\n            - python\n            - requests",
         ["python-requests/2.31", "python-urllib", "requests"], [True, False, False]),
        ("        userAgent|contains|cased: Pacu", ["Pacu/1.5", "pacu/1.5", "x"],
         [True, False, False]),
        ("        userAgent|cased: Pacu", ["Pacu", "pacu", "Pacu2"], [True, False, False]),
        ("        userAgent|re: '^aws-sdk-(go|js)/'", ["aws-sdk-go/1.4", "AWS-SDK-GO/1", "x"],
         [True, False, False]),
        ("        userAgent|re|i: '^aws-sdk-(go|js)/'", ["aws-sdk-go/1.4", "AWS-SDK-GO/1", "x"],
         [True, True, False]),
        ("        userAgent|re|m: '^kali$'", ["line\nkali\nmore", "kali linux", "x"],
         [True, False, False]),
        ("        userAgent|re|s: 'start.end'", ["start\nend", "start-end", "startend"],
         [True, True, False]),
        ("        userAgent|windash|contains: ' -x '", ["tool /x run", "tool -x run",
         "tool \u2013x run"], [True, True, True]),
        ("        userAgent|wide|contains: hi", ["h\x00i\x00", "hi", "x"], [True, False, False]),
        ("        userAgent|utf16be|contains: hi", ["\x00h\x00i", "hi", "x"], [True, False, False]),
        ("        userAgent|utf16|contains: hi", ["\ufeffh\x00i\x00", "hi", "h\x00i\x00"],
         [True, False, False]),
    ],
)  # fmt: skip
def test_string_modifiers(tmp_path, selection, agents, expected):
    rule = rule_of(tmp_path, selection)
    assert matches(rule, *[with_agent(a) for a in agents]) == expected


def test_base64_and_base64offset_match_the_encoded_text(tmp_path):
    secret = "curl http://169.254.169.254/latest/meta-data/"
    exact = rule_of(tmp_path, f"        requestParameters.script|base64: '{secret}'")
    anywhere = rule_of(
        tmp_path, "        requestParameters.script|base64offset|contains: 169.254.169.254"
    )
    records = [
        with_params(script=base64.b64encode(secret.encode()).decode()),
        with_params(script=base64.b64encode(b"#!/bin/sh\n" + secret.encode()).decode()),
        with_params(script=base64.b64encode(b"echo hello").decode()),
    ]
    assert matches(exact, *records) == [True, False, False]
    assert matches(anywhere, *records) == [True, True, False]


def test_cidr(tmp_path):
    rule = rule_of(
        tmp_path,
        "        sourceIPAddress|cidr:\n"
        "            - 203.0.113.0/24\n"
        "            - '2001:db8::/32'",
    )
    assert matches(
        rule,
        cloudtrail_record(sourceIPAddress="203.0.113.9"),
        cloudtrail_record(sourceIPAddress="2001:db8::1"),
        cloudtrail_record(sourceIPAddress="lambda.amazonaws.com"),
    ) == [True, True, False]


def test_fieldref_equals_and_fieldref_startswith(tmp_path):
    equal = rule_of(tmp_path, "        userIdentity.userName|fieldref: requestParameters.userName")
    prefix = rule_of(
        tmp_path, "        requestParameters.roleName|fieldref|startswith: userIdentity.userName"
    )
    mine = with_params(userName="sam", roleName="sam-ops")
    other = with_params(userName="alex", roleName="ops-sam")
    assert matches(equal, mine, other) == [True, False]
    assert matches(prefix, mine, other) == [True, False]


def test_fieldref_contains(tmp_path):
    rule = rule_of(
        tmp_path, "        userIdentity.arn|fieldref|contains: requestParameters.userName"
    )
    assert matches(rule, with_params(userName="sam"), with_params(userName="alex")) == [True, False]


def test_exists_true_and_false(tmp_path):
    present = rule_of(tmp_path, "        requestParameters.policy|exists: true")
    absent = rule_of(tmp_path, "        requestParameters.policy|exists: false")
    records = [with_params(policy="{}"), with_params(other="x"), with_params(policy=None)]
    assert matches(present, *records) == [True, False, False]
    assert matches(absent, *records) == [False, True, True]


def test_null_means_absent_or_null(tmp_path):
    # SigmaHQ's "succeeded" idiom: errorCode Success or no errorCode at all
    rule = rule_of(
        tmp_path,
        "        eventName: GetFunction\n    status_success:\n        errorCode: Success\n"
        "    status_null:\n        errorCode: null",
        condition="selection and 1 of status_*",
    )
    assert matches(
        rule,
        cloudtrail_record(),
        cloudtrail_record(errorCode="Success"),
        cloudtrail_record(errorCode="AccessDenied"),
    ) == [True, True, False]


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("        requestParameters.count|gt: 10", [False, False, True, False]),
        ("        requestParameters.count|gte: 10", [False, True, True, False]),
        ("        requestParameters.count|lt: 10", [True, False, False, False]),
        ("        requestParameters.count|lte: 10", [True, True, False, False]),
        ("        requestParameters.count|neq: 10", [True, False, True, True]),
        ("        requestParameters.count: 10", [False, True, False, False]),
    ],
)
def test_numeric_comparisons(tmp_path, selection, expected):
    rule = rule_of(tmp_path, selection)
    records = [with_params(count=2), with_params(count=10), with_params(count="25"), with_params()]
    assert matches(rule, *records) == expected


@pytest.mark.parametrize(
    ("modifier", "value", "expected"),
    [
        ("minute", 7, [True, False]),
        ("hour", 3, [True, False]),
        ("day", 14, [True, False]),
        ("week", 11, [True, False]),  # ISO week of 2026-03-14
        ("month", 3, [True, True]),
        ("year", 2026, [True, True]),
    ],
)
def test_timestamp_parts_of_the_logged_time(tmp_path, modifier, value, expected):
    rule = rule_of(tmp_path, f"        eventTime|{modifier}: {value}")
    records = [
        cloudtrail_record(eventTime="2026-03-14T03:07:00Z"),
        cloudtrail_record(eventTime="2026-03-28T22:41:00Z"),
    ]
    assert matches(rule, *records) == expected


def test_timestamp_part_of_the_time_column(tmp_path):
    rule = rule_of(tmp_path, "        time|hour: 22")
    records = [
        cloudtrail_record(eventTime="2026-03-14T03:07:00Z"),
        cloudtrail_record(eventTime="2026-03-28T22:41:00Z"),
    ]
    assert matches(rule, *records) == [False, True]


def test_expand_placeholder_is_refused_and_the_other_rules_of_the_folder_load(tmp_path):
    good = rule_of(tmp_path, "        userAgent|contains: TruffleHog")
    loaded = load_text(
        tmp_path,
        """\
title: placeholder
id: 0e7b9a4c-31b5-4b52-a5a4-3c9e2f1d0b77
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        sourceIPAddress|expand: '%office_ranges%'
    condition: selection
level: low
""",
    )
    assert loaded.rules == []
    assert "%office_ranges%" in loaded.errors[0].reason
    assert matches(good, with_agent("TruffleHog")) == [True]
