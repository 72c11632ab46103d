"""Sigma keywords: case-insensitive text searched in the whole record as it was logged."""

from __future__ import annotations

from tests.detectors.rules.sigma.kit import matches, user_rule
from tests.factories import log_entry


def pod_create(annotation: str) -> dict:
    """A GKE pod creation whose pod spec carries an annotation (Admin Activity audit log)."""
    entry = log_entry()
    entry["resource"] = {"type": "k8s_cluster", "labels": {"project_id": "demo-proj"}}
    entry["protoPayload"].update(
        serviceName="k8s.io",
        methodName="io.k8s.core.v1.pods.create",
        resourceName="core/v1/namespaces/default/pods/runner",
        request={"metadata": {"name": "runner", "annotations": {annotation: "true"}}},
    )
    return entry


RULE = """\
title: Break-glass pod
id: 2a4e8d1f-6b7c-4e21-9f0a-8c3d5b6e7f01
logsource:
    product: gcp
    service: gcp.audit
detection:
    selection:
        data.protoPayload.resource.type: k8s_cluster
        data.protoPayload.methodName: io.k8s.core.v1.pods.create
    keywords:
        - 'Image-Policy.k8s.io/break-glass'
    condition: {condition}
level: medium
"""


def test_keywords_with_a_selection_search_the_raw_text_case_insensitively(tmp_path):
    rule = user_rule(tmp_path, RULE.format(condition="selection and keywords"))
    assert matches(
        rule,
        pod_create("image-policy.k8s.io/break-glass"),
        pod_create("example.com/owner"),
        log_entry(protoPayload={**log_entry()["protoPayload"], "note": "break-glass"}),
    ) == [True, False, False]


def test_negated_keywords(tmp_path):
    rule = user_rule(tmp_path, RULE.format(condition="selection and not keywords"))
    assert matches(
        rule, pod_create("image-policy.k8s.io/break-glass"), pod_create("example.com/owner")
    ) == [False, True]


def test_keyword_with_a_quote_matches_its_json_escaped_form(tmp_path):
    rule = user_rule(
        tmp_path,
        RULE.format(condition="keywords").replace(
            "- 'Image-Policy.k8s.io/break-glass'", """- 'say "hi"'"""
        ),
    )
    assert matches(rule, pod_create('say "hi"'), pod_create("say hi")) == [True, False]


def test_keyword_wildcards(tmp_path):
    rule = user_rule(
        tmp_path,
        RULE.format(condition="keywords").replace(
            "- 'Image-Policy.k8s.io/break-glass'", "- 'image-policy.*/break-?lass'"
        ),
    )
    assert matches(
        rule, pod_create("image-policy.k8s.io/break-glass"), pod_create("image-policy/x")
    ) == [True, False]
