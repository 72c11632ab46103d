"""Load a user's Sigma rule as written (no functrail block) and run it over raw records.

The records go through the real normalizer, as in production: a rule is checked against what
CloudTrail and Cloud Logging write, not against hand-made event rows.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from detectors.rules.engine import match_rules
from detectors.rules.loader import Loaded, load_file
from detectors.rules.model import Rule
from detectors.rules.testing import normalize_records

_n = itertools.count(1)


def load_text(tmp_path: Path, text: str) -> Loaded:
    """Write one rule file (YAML as a user writes it) and load it."""
    path = tmp_path / f"user_rule_{next(_n)}.yml"
    path.write_text(text, encoding="utf-8")
    return load_file(path)


def user_rule(tmp_path: Path, text: str) -> Rule:
    """The single rule of a file that must load."""
    loaded = load_text(tmp_path, text)
    assert not loaded.errors, [e.line() for e in loaded.errors]
    [rule] = loaded.rules
    return rule


def normalized(*records: dict[str, Any]) -> pd.DataFrame:
    """CloudTrail records and LogEntries, each provider through its own normalizer run."""
    aws = [r for r in records if "eventID" in r]
    gcp = [r for r in records if "insertId" in r]
    frames = []
    for name, group in (("aws", aws), ("gcp", gcp)):
        if group:
            events, problems = normalize_records(group, name)
            assert not problems, problems
            frames.append(events)
    return pd.concat(frames, ignore_index=True)


def record_id(record: dict[str, Any]) -> str:
    return str(record.get("eventID") or record.get("insertId"))


def matched_ids(rule: Rule, *records: dict[str, Any]) -> set[str]:
    """Ids (eventID / insertId) of the records the rule matches."""
    events = normalized(*records)
    _, matches = match_rules(events, [rule])
    mask = matches[rule.meta.rule_id]
    assert isinstance(mask, np.ndarray), "a detection rule matches rows, not groups"
    return set(events["id"][mask].tolist())


def matches(rule: Rule, *records: dict[str, Any]) -> list[bool]:
    """For each record, in order: did the rule match it?"""
    hit = matched_ids(rule, *records)
    return [record_id(r) in hit for r in records]
