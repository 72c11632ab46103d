"""``/v1/rules`` lists the user's rules beside the pack, and switches them like pack rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.rules.store import disabled_rules
from tests.service.api.conftest import Api, make_api

USER_RULE = """\
title: TruffleHog checks a stolen key
id: 4c7b2a1e-9d3f-4e5a-8b6c-7d8e9f0a1b2c
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: sts.amazonaws.com
        eventName: GetCallerIdentity
        userAgent|contains: TruffleHog
    condition: selection
level: high
"""
RULE_ID = "4c7b2a1e-9d3f-4e5a-8b6c-7d8e9f0a1b2c"


@pytest.fixture
def user_api(fresh_database, tmp_path) -> Iterator[Api]:
    rules = tmp_path / "my-rules"
    rules.mkdir()
    (rules / "trufflehog.yml").write_text(USER_RULE)
    (rules / "windows.yml").write_text(
        USER_RULE.replace("4c7b2a1e", "5c7b2a1e").replace("product: aws", "product: windows")
    )
    made = make_api(fresh_database, rules_dir=rules)
    with made.client:
        yield made


def test_user_rules_are_listed_beside_the_pack(user_api):
    page = user_api.client.get("/v1/rules", headers=user_api.headers("viewer")).json()
    by_id = {r["rule_id"]: r for r in page["items"]}
    assert by_id[RULE_ID]["origin"] == "user"
    assert by_id[RULE_ID]["title"] == "TruffleHog checks a stolen key"
    assert by_id[RULE_ID]["severity"] == "high"
    assert by_id[RULE_ID]["sigma_id"] == RULE_ID
    assert by_id["aws_lambda_public_add_permission"]["origin"] == "pack"
    [error] = page["load_errors"]
    assert "windows.yml" in error
    assert "5c7b2a1e" in error
    assert "logsource" in error


def test_admin_disables_a_user_rule(user_api):
    response = user_api.client.patch(
        f"/v1/rules/{RULE_ID}", json={"enabled": False}, headers=user_api.headers("admin")
    )
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is False
    assert response.json()["origin"] == "user"
    with user_api.db.session() as session:
        assert disabled_rules(session) == {RULE_ID}
    page = user_api.client.get("/v1/rules", headers=user_api.headers("viewer")).json()
    assert {r["rule_id"]: r["enabled"] for r in page["items"]}[RULE_ID] is False
