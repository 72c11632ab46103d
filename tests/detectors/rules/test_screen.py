"""Raw-text screens drop rows before decoding, and never a row the rule would match."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from sigma.types import SigmaRegularExpression, SigmaString

import detectors.rules.sigma_rules as sigma_rules
from detectors.rules.engine import match_rules
from detectors.rules.screen import literal_of
from tests.detectors.rules.rulekit import sigma
from tests.factories import event, events


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (SigmaString("Root"), "root"),
        (SigmaString("*S3 Browser*"), "s3 browser"),
        (SigmaString('"arn:aws:s3:::<YOUR-BUCKET-NAME>/*"'), "arn:aws:s3:::<your-bucket-name>"),
        (SigmaString("*?AWS_CONTAINER*"), "aws_container"),
        (SigmaString(":evil-host"), "evil-host"),  # a leading colon may be JSON structure
        (SigmaString("12345.5"), None),  # numbers may be logged in another notation
        (SigmaString("ab"), None),
        (SigmaString("*"), None),
        (SigmaRegularExpression(".+:assumed-role/aws:.+"), "assumed-role"),
        (SigmaRegularExpression("^(alpha|beta)$"), None),
        (SigmaRegularExpression("(?i)Kali[0-9]+"), "kali"),
    ],
)
def test_literal_a_matching_text_must_hold(value, literal):
    assert literal_of(value) == literal


def _batch(*raws: str):
    filler = [event(raw={"requestParameters": {"roleName": f"app-{i}"}}) for i in range(80)]
    return events(*filler, *[event(raw=raw) for raw in raws])


def _matched(rule, batch) -> list[int]:
    _, found = match_rules(batch, [rule])
    return np.flatnonzero(found[rule.meta.rule_id]).tolist()


def test_screen_keeps_every_row_the_rule_matches(tmp_path, monkeypatch):
    rule = sigma(tmp_path, {"s": {"requestParameters.roleName": "KAPUT-role"}, "condition": "s"})
    batch = _batch(
        orjson.dumps({"requestParameters": {"roleName": "kaput-role"}}).decode(),
        # a Kelvin sign folds to k; an escape hides the literal from a plain text search
        orjson.dumps({"requestParameters": {"roleName": "\u212aaput-role"}}).decode(),
        '{"requestParameters": {"roleName": "\\u006baput-role"}}',
        orjson.dumps({"requestParameters": {"roleName": "other"}}).decode(),
    )
    screened = _matched(rule, batch)
    monkeypatch.setattr(sigma_rules, "SCREEN_MIN_ROWS", 10**9)
    assert screened == _matched(rule, batch) == [80, 81, 82]


def test_screen_decides_a_negated_leaf_without_decoding(tmp_path):
    rule = sigma(
        tmp_path,
        {"s": {"action": "GetFunction"}, "f": {"requestParameters.roleName": "kaput-role"},
         "condition": "s and not f"},
    )  # fmt: skip
    batch = _batch(orjson.dumps({"requestParameters": {"roleName": "kaput-role"}}).decode())
    _, found = match_rules(batch, [rule])
    mask = found[rule.meta.rule_id]
    assert isinstance(mask, np.ndarray)
    assert np.flatnonzero(~mask).tolist() == [80]
