"""Which rules run: the loaded rules and their enabled state, held by the caller (not global)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from detectors.rules.model import Rule


class UnknownRule(KeyError):
    """No loaded rule has this id."""


class RuleRegistry:
    """Rules by id plus an enabled map; every rule is enabled unless the map says otherwise."""

    def __init__(self, rules: Iterable[Rule], enabled: Mapping[str, bool] | None = None) -> None:
        self._rules: dict[str, Rule] = {}
        for rule in rules:
            if rule.meta.rule_id in self._rules:
                raise ValueError(f"duplicate rule id {rule.meta.rule_id!r}")
            self._rules[rule.meta.rule_id] = rule
        self._enabled: dict[str, bool] = dict(enabled or {})

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def get(self, rule_id: str) -> Rule:
        try:
            return self._rules[rule_id]
        except KeyError:
            raise UnknownRule(rule_id) from None

    def is_enabled(self, rule_id: str) -> bool:
        self.get(rule_id)
        return self._enabled.get(rule_id, True)

    def set_enabled(self, rule_id: str, enabled: bool) -> None:
        """Enable or disable one rule (the service persists ``state`` and passes it back in)."""
        self.get(rule_id)
        self._enabled[rule_id] = enabled

    @property
    def state(self) -> dict[str, bool]:
        """The enabled flag of every rule, to persist."""
        return {rule_id: self._enabled.get(rule_id, True) for rule_id in self._rules}

    def active(self) -> list[Rule]:
        """Enabled rules (a disabled base rule still feeds an enabled correlation)."""
        return [rule for rule in self._rules.values() if self._enabled.get(rule.meta.rule_id, True)]
