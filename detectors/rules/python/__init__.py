"""Rules written in Python, for what Sigma cannot say, behind the same ``Rule`` protocol.

A Python rule is a module-level ``PythonRule(meta, evaluate)``; ``evaluate(events)`` gets the
batch DataFrame and returns a boolean row mask (alerts grouped by ``meta.dedup``) or a list of
row-position arrays (one alert each). Add it to ``PYTHON_RULES`` below so it is loaded,
listed, linted and tested like the Sigma pack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from detectors.rules.context import BatchContext
from detectors.rules.model import Matches, RuleMeta

Evaluate = Callable[[pd.DataFrame], "np.ndarray | pd.Series | list[np.ndarray]"]


@dataclass
class PythonRule:
    """A Python detection: metadata (with tests) plus a vectorized ``evaluate``."""

    meta: RuleMeta
    function: Evaluate
    reads: frozenset[str] = frozenset()

    def fields(self) -> frozenset[str]:
        return self.reads | frozenset(self.meta.dedup)

    def prepare(self, ctx: BatchContext) -> None:
        return None

    def evaluate(self, ctx: BatchContext) -> Matches:
        cached = ctx.masks.get(self.meta.rule_id)
        if cached is not None:
            return cached
        result = self.function(ctx.events)
        if isinstance(result, list):
            return [np.asarray(g, dtype=np.int64) for g in result]
        mask = np.asarray(pd.Series(result).fillna(False).to_numpy(), dtype=bool)
        if mask.shape != (ctx.n,):
            raise ValueError(
                f"{self.meta.rule_id}: evaluate returned {mask.shape}, want ({ctx.n},)"
            )
        ctx.masks[self.meta.rule_id] = mask
        return mask


def python_rules() -> list[PythonRule]:
    """The built-in Python rules."""
    from detectors.rules.python.console import CONSOLE_LOGIN_FAILURE_BURST

    return [CONSOLE_LOGIN_FAILURE_BURST]
