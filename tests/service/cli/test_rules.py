"""``functrail rules list|test|lint``."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from service.cli.app import app

BROKEN_RULE = """\
title: never fires
id: 5b0d7c7e-0000-4000-8000-0000000000bb
name: my_broken_rule
tags: [attack.t1190]
logsource: {product: aws}
detection: {s: {action: AddPermission20150331v2}, condition: s}
level: low
functrail:
  runbook: look
  tests:
    positive:
      - {eventVersion: "1.09", eventSource: lambda.amazonaws.com,
         eventName: AddPermission20150331v2,
         eventTime: "2026-11-20T14:02:11Z", eventID: 0a000000-0000-4000-8000-000000000001,
         awsRegion: eu-central-1, recipientAccountId: "111122223333",
         userIdentity: {type: IAMUser, arn: "arn:aws:iam::111122223333:user/a"}}
    negative:
      - {eventVersion: "1.09", eventSource: lambda.amazonaws.com, eventName: GetFunction,
         eventTime: "2026-11-20T14:02:11Z", eventID: 0a000000-0000-4000-8000-000000000002,
         awsRegion: eu-central-1, recipientAccountId: "111122223333",
         userIdentity: {type: IAMUser, arn: "arn:aws:iam::111122223333:user/a"}}
"""


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_list_jsonl_names_every_rule(settings):
    result = run("rules", "list", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(line) for line in result.stdout.splitlines()]
    ids = {row["rule_id"] for row in rows}
    assert "aws_lambda_public_add_permission" in ids
    assert all(row["severity"] in {"info", "low", "medium", "high", "critical"} for row in rows)


def test_rules_test_passes_for_a_named_pack_rule(settings):
    result = run("rules", "test", "aws_lambda_public_add_permission")
    assert result.exit_code == 0, result.output
    assert "ok   aws_lambda_public_add_permission" in result.stderr


def test_rules_test_fails_for_a_rule_on_a_suffixed_event_name(settings, tmp_path):
    (tmp_path / "broken.yml").write_text(BROKEN_RULE)
    result = run("rules", "test", "--rules", str(tmp_path), "my_broken_rule")
    assert result.exit_code == 1
    assert "FAIL my_broken_rule: positive record 0" in result.stderr


def test_rules_test_unknown_rule_fails(settings):
    assert run("rules", "test", "no_such_rule").exit_code == 1


def test_lint_flags_the_suffixed_action(settings, tmp_path):
    (tmp_path / "broken.yml").write_text(BROKEN_RULE)
    result = run("rules", "lint", "--rules", str(tmp_path))
    assert result.exit_code == 1
    assert "my_broken_rule: action value 'AddPermission20150331v2' has an API-version suffix" in (
        result.stderr
    )


USER_RULE = """\
title: S3 Browser creating users
id: 8e4f0a6b-1f2c-4d3e-9a5b-6c7d8e9f0a1b
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: iam.amazonaws.com
    eventName: CreateUser
    userAgent|contains: S3 Browser
  condition: selection
level: high
"""


def test_lint_warns_about_a_user_rule_without_runbook_or_tests_and_exits_0(settings, tmp_path):
    (tmp_path / "user.yml").write_text(USER_RULE)
    result = run("rules", "lint", "--rules", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr
    assert "no functrail.runbook" in result.stderr
    assert "0 errors" in result.stderr


def test_lint_strict_fails_on_user_rule_warnings(settings, tmp_path):
    (tmp_path / "user.yml").write_text(USER_RULE)
    assert run("rules", "lint", "--strict", "--rules", str(tmp_path)).exit_code == 1


def test_lint_fails_on_a_rule_that_cannot_load_and_names_it(settings, tmp_path):
    (tmp_path / "user.yml").write_text(USER_RULE)
    (tmp_path / "windows.yml").write_text(
        USER_RULE.replace("8e4f0a6b", "9e4f0a6b").replace(
            "{product: aws, service: cloudtrail}", "{product: windows, category: process_creation}"
        )
    )
    result = run("rules", "lint", "--rules", str(tmp_path))
    assert result.exit_code == 1
    assert "windows.yml: rule 9e4f0a6b-1f2c-4d3e-9a5b-6c7d8e9f0a1b: logsource" in result.stderr
    assert "1 errors" in result.stderr
    listed = run("rules", "list", "--format", "jsonl", "--rules", str(tmp_path))
    ids = {orjson.loads(line)["rule_id"] for line in listed.stdout.splitlines()}
    assert "8e4f0a6b-1f2c-4d3e-9a5b-6c7d8e9f0a1b" in ids  # the other rule still loads


def test_coverage_table_lists_pack_and_user_rules_by_tactic(settings, tmp_path):
    (tmp_path / "user.yml").write_text(
        USER_RULE.replace(
            "level: high", "tags: [attack.persistence, attack.t1136.003]\nlevel: high"
        )
    )
    wide = CliRunner().invoke(
        app, ["rules", "coverage", "--rules", str(tmp_path)], env={"COLUMNS": "240"}
    )
    result = wide
    assert result.exit_code == 0, result.output
    assert "Create Account: Cloud Account" in result.stdout
    assert "persistence" in result.stdout
    assert "T1136.003" in result.stdout
    assert "8e4f0a6b-1f2c-4d3e-9a5b-6c7d8e9f0a1b" in result.stdout
    assert "aws_lambda_public_add_permission" in result.stdout
    assert "1 user)" in result.stdout


def test_coverage_navigator_prints_a_layer(settings, tmp_path):
    from tests.detectors.rules.test_coverage import check_layer

    (tmp_path / "user.yml").write_text(
        USER_RULE.replace("level: high", "tags: [attack.t1136.003]\nlevel: high")
    )
    result = run("rules", "coverage", "--format", "navigator", "--rules", str(tmp_path))
    assert result.exit_code == 0, result.output
    layer = orjson.loads(result.stdout)
    check_layer(layer)
    ids = {t["techniqueID"] for t in layer["techniques"]}
    assert {"T1136.003", "T1190"} <= ids


def test_rules_test_skips_a_user_rule_without_test_records(settings, tmp_path):
    (tmp_path / "user.yml").write_text(USER_RULE)
    result = run("rules", "test", "--rules", str(tmp_path), "8e4f0a6b-1f2c-4d3e-9a5b-6c7d8e9f0a1b")
    assert result.exit_code == 0, result.output
    assert "skip 8e4f0a6b-1f2c-4d3e-9a5b-6c7d8e9f0a1b" in result.stderr
