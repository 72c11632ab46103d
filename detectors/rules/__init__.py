"""The rule engine: Sigma rules (and Python rules) evaluated as vectorized masks over a batch.

Public API: ``load_rules`` (pack + user folders), ``RuleRegistry`` (enabled state), ``run_rules``
(events -> folded alerts), ``match_rules`` (per-rule matches), ``lint_rules`` and
``test_rule`` (a rule's own raw test records through the real normalizer).
"""
