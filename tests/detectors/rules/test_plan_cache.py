"""The compiled-rule cache: ``functrail detect`` raises the same alerts from cached plans as from
compiled rules, never compiles a cached file again, and ignores an entry it did not write."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from detectors.rules import loader
from detectors.rules.loader import load_rules
from service.cli.app import app
from tests.factories import cloudtrail_file, json_lines

# SigmaHQ's style (no functrail block): a modifier chain, a CIDR, a correlation over a base rule
USER_RULES = {
    "aws_user.yml": """
title: Lambda function URL created from outside the office
id: 2f1c8f5e-8a53-4c1e-9a57-0d5f0c6f7a11
status: experimental
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: lambda.amazonaws.com
        eventName|startswith: CreateFunctionUrlConfig
    office:
        sourceIPAddress|cidr: 10.0.0.0/8
    condition: selection and not office
level: medium
tags:
    - attack.persistence
""",
    "gcp_user.yml": """
title: Service account key created
id: 8c3d9a4e-1b2f-4d6e-8f70-5a9b0c1d2e33
status: experimental
logsource:
    product: gcp
    service: gcp.audit
detection:
    selection:
        gcp.audit.method_name|endswith: .CreateServiceAccountKey
    condition: selection
level: high
---
title: Many service account keys
id: 4e7a1b2c-3d4f-4a5b-9c6d-7e8f9a0b1c22
status: experimental
correlation:
    type: event_count
    rules:
        - 8c3d9a4e-1b2f-4d6e-8f70-5a9b0c1d2e33
    group-by:
        - principal
    timespan: 1h
    condition:
        gte: 2
level: high
""",
}


CIDR_RULE = "2f1c8f5e-8a53-4c1e-9a57-0d5f0c6f7a11"
CORRELATION = "4e7a1b2c-3d4f-4a5b-9c6d-7e8f9a0b1c22"


def _is_cloudtrail(record: dict[str, Any]) -> bool:
    return "eventSource" in record or "eventName" in record


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Every pack rule's own positive records as log files, and a folder of user rules."""
    where = tmp_path_factory.mktemp("plan-cache")
    records = [
        record
        for rule in load_rules().rules
        for record in [
            *rule.meta.tests.positive,
            *(r for records in rule.meta.tests.positive_sets for r in records),
        ]
    ]
    (where / "logs").mkdir()
    aws = [r for r in records if _is_cloudtrail(r)]
    (where / "logs" / "aws.json.gz").write_bytes(cloudtrail_file(*aws, compress=True))
    (where / "logs" / "gcp.jsonl").write_bytes(
        json_lines(*(r for r in records if not _is_cloudtrail(r)))
    )
    (where / "rules").mkdir()
    for name, text in USER_RULES.items():
        (where / "rules" / name).write_text(text, encoding="utf-8")
    return where / "logs", where / "rules"


def detect(inputs: tuple[Path, Path]) -> list[dict[str, Any]]:
    logs, rules = inputs
    result = CliRunner().invoke(
        app, ["detect", "--detectors", "rules", "-f", "jsonl", "--rules", str(rules), str(logs)]
    )
    assert result.exit_code == 0, result.output
    assert "rule not loaded" not in result.stderr
    return [orjson.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def uncached(inputs, settings, monkeypatch) -> list[dict[str, Any]]:
    monkeypatch.setenv("FUNCTRAIL_RULE_CACHE", "false")
    alerts = detect(inputs)
    monkeypatch.delenv("FUNCTRAIL_RULE_CACHE")
    assert not (settings.home / "cache").exists()
    return alerts


def entries(settings) -> list[Path]:
    return sorted((settings.home / "cache" / "rules").glob("*.json"))


def test_detect_alerts_are_the_same_from_cached_rules(inputs, settings, uncached, monkeypatch):
    rule_ids = {a["rule_id"] for a in uncached}
    assert len(rule_ids) > 150  # the pack's rules fire on their own records
    assert {CIDR_RULE, CORRELATION} < rule_ids  # and the user's rules on them
    assert detect(inputs) == uncached  # first run: compiles and writes the cache
    assert len(entries(settings)) == len(loader.rule_files([loader.PACK_DIR, inputs[1]]))

    def no_compiling(path: Path) -> loader.Loaded:
        raise AssertionError(f"{path} compiled although it is cached")

    monkeypatch.setattr(loader, "load_file", no_compiling)
    assert detect(inputs) == uncached  # second run: every file read from the cache


def _rewrite(entry: Path, payload: bytes, checksum: str | None = None) -> None:
    header = orjson.loads(entry.read_bytes().partition(b"\n")[0])
    header["sha256"] = checksum or hashlib.sha256(payload).hexdigest()
    entry.write_bytes(orjson.dumps(header) + b"\n" + payload)


def test_a_tampered_or_corrupt_entry_is_ignored_and_rebuilt(inputs, settings, uncached):
    detect(inputs)
    found = entries(settings)
    edited, truncated, foreign = found[0], found[1], found[2]
    body = edited.read_bytes().partition(b"\n")[2]
    # edited without fixing the checksum (a severity lowered by hand)
    _rewrite(edited, body.replace(b'"high"', b'"low"').replace(b'"critical"', b'"low"'), "0" * 64)
    truncated.write_bytes(truncated.read_bytes()[:100])
    # a well-formed entry naming a class outside the list: never instantiated
    evil = {"rules": [{"$": "obj", "c": "Popen", "d": {"args": ["touch", "/tmp/pwned"]}}]}
    _rewrite(foreign, orjson.dumps({**evil, "errors": []}))

    assert detect(inputs) == uncached
    for entry in (edited, truncated, foreign):  # rebuilt: read back as written
        head, _, payload = entry.read_bytes().partition(b"\n")
        assert orjson.loads(head)["sha256"] == hashlib.sha256(payload).hexdigest()
        assert b"Popen" not in payload
    assert detect(inputs) == uncached


def test_an_edited_rule_file_is_compiled_again(inputs, settings, tmp_path):
    logs, _ = inputs
    mine = tmp_path / "rules"
    mine.mkdir()
    (mine / "gcp_user.yml").write_text(USER_RULES["gcp_user.yml"], encoding="utf-8")
    assert CORRELATION in {a["rule_id"] for a in detect((logs, mine))}
    text = USER_RULES["gcp_user.yml"].replace("gte: 2", "gte: 1000")
    (mine / "gcp_user.yml").write_text(text, encoding="utf-8")
    assert CORRELATION not in {a["rule_id"] for a in detect((logs, mine))}
