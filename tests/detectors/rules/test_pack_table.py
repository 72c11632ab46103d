"""docs/rule-pack.md's rule table is the pack's own, generated and checked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from detectors.rules.docblock import rewrite_block, shown_block
from detectors.rules.loader import load_rules
from detectors.rules.pack_table import BEGIN, END, pack_table
from detectors.rules.sigma_rules import SigmaCorrelation

DOC = Path(__file__).resolve().parents[3] / "docs" / "rule-pack.md"
RULES = load_rules().rules


def test_the_doc_table_is_the_packs_own():
    assert shown_block(DOC, BEGIN, END) == pack_table(RULES), (
        "docs/rule-pack.md is out of date: run `python -m detectors.rules.pack_table`"
    )


def test_every_rule_has_one_row():
    table = pack_table(RULES)
    for rule in RULES:
        assert table.count(f"| `{rule.meta.rule_id}` |") == 1, rule.meta.rule_id


def test_a_base_rule_names_the_correlation_it_feeds():
    table = pack_table(RULES)
    row = next(line for line in table.splitlines() if line.startswith("| `aws_secret_value_read`"))
    assert "base of `aws_secrets_bulk_read` (no alert)" in row


def test_a_title_with_a_pipe_does_not_break_the_row():
    rule = next(r for r in RULES if r.meta.rule_id == "aws_secrets_bulk_read")
    assert isinstance(rule, SigmaCorrelation)
    piped = dataclasses.replace(rule, meta=dataclasses.replace(rule.meta, title="a | b"))
    row = next(line for line in pack_table([piped]).splitlines() if "aws_secrets_bulk_read" in line)
    assert "a \\| b" in row
    assert row.count(" | ") == 5


def test_rewrite_refuses_a_page_without_the_markers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("no block here\n")
    with pytest.raises(ValueError, match="no generated block"):
        rewrite_block(page, BEGIN, END, pack_table(RULES))
