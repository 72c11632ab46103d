"""Build a one-off rule from a detection block, so engine tests state only the condition."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import yaml

from detectors.rules.loader import load_file
from detectors.rules.model import Rule

_n = itertools.count(1)


def rule_yaml(detection: dict[str, Any], **extra: Any) -> dict[str, Any]:
    n = next(_n)
    doc: dict[str, Any] = {
        "title": f"test rule {n}",
        "id": str(uuid.uuid4()),
        "name": f"test_rule_{n}",
        "status": "test",
        "logsource": {"product": "aws", "service": "cloudtrail"},
        "tags": ["attack.t1190"],
        "detection": detection,
        "level": "high",
        "functrail": {"runbook": "check it", "dedup": ["account", "principal", "resource"]},
    }
    doc["functrail"].update(extra.pop("functrail", {}))
    doc.update(extra)
    return doc


def load_docs(tmp_path: Path, *docs: dict[str, Any]) -> list[Rule]:
    """Write the documents as one rule file and load it (failing loudly on load errors)."""
    path = tmp_path / f"rule_{next(_n)}.yml"
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False), encoding="utf-8")
    loaded = load_file(path)
    assert not loaded.errors, [e.line() for e in loaded.errors]
    return loaded.rules


def sigma(tmp_path: Path, detection: dict[str, Any], **extra: Any) -> Rule:
    return load_docs(tmp_path, rule_yaml(detection, **extra))[0]
