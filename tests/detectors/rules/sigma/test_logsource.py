"""``logsource`` scopes a rule to the events of its provider; other logs are refused."""

from __future__ import annotations

import pytest

from tests.detectors.rules.sigma.kit import load_text, matches, user_rule
from tests.factories import cloudtrail_record, log_entry, request_log

RULE = """\
title: Calls from a suspicious range
id: 7f1d1f0b-5d3e-4b70-8d7e-2c5f4b1e9a10
logsource:
{logsource}
detection:
    selection:
        source_ip|cidr: 198.51.100.0/24
    condition: selection
level: low
"""


def records() -> list[dict]:
    """The same address in a CloudTrail record, an audit entry and a request log."""
    return [
        cloudtrail_record(sourceIPAddress="198.51.100.3"),
        log_entry(),  # callerIp 198.51.100.3
        request_log(httpRequest={"requestMethod": "GET", "remoteIp": "198.51.100.3"}),
    ]


@pytest.mark.parametrize(
    ("logsource", "expected"),
    [
        ("    product: aws\n    service: cloudtrail", [True, False, False]),
        ("    product: aws", [True, False, False]),
        ("    product: gcp\n    service: gcp.audit", [False, True, False]),
        ("    product: gcp", [False, True, True]),
        ("    product: functrail\n    service: audit", [True, True, True]),
    ],
)
def test_logsource_scopes_the_rule_to_its_provider(tmp_path, logsource, expected):
    rule = user_rule(tmp_path, RULE.format(logsource=logsource))
    assert matches(rule, *records()) == expected


@pytest.mark.parametrize(
    "logsource",
    [
        "    product: windows\n    category: process_creation",
        "    product: azure\n    service: activitylogs",
        "    product: aws\n    service: s3",
        "    product: gcp\n    service: google_workspace.admin",
        "    category: firewall",
    ],
)
def test_a_log_functrail_never_reads_is_refused_loudly(tmp_path, logsource):
    loaded = load_text(tmp_path, RULE.format(logsource=logsource))
    assert loaded.rules == []
    [error] = loaded.errors
    assert "rule 7f1d1f0b-5d3e-4b70-8d7e-2c5f4b1e9a10" in error.reason
    assert "is not a log functrail reads" in error.reason
    assert logsource.split(":")[1].split()[0] in error.reason  # names what it was given
