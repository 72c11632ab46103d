"""Every built-in rule passes its own tests (raw records through the real normalizer)."""

from __future__ import annotations

import pytest

from detectors.rules.loader import load_rules
from detectors.rules.testing import run_rule_tests

LOADED = load_rules()


def test_every_rule_file_loads():
    assert [e.line() for e in LOADED.errors] == []


@pytest.mark.parametrize("rule", LOADED.rules, ids=lambda r: r.meta.rule_id)
def test_rule_passes_its_own_tests(rule):
    result = run_rule_tests(rule)
    assert result.failures == []
    assert result.checked >= 2
