"""Rules written in Python, for what Sigma cannot say, behind the same ``Rule`` protocol.

A Python rule is a module-level ``PythonRule(meta, evaluate)``; ``evaluate(events)`` gets the
batch DataFrame and returns a boolean row mask (alerts grouped by ``meta.dedup``) or a list of
row-position arrays (one alert each). Add it to ``python_rules`` below so it is loaded,
listed, linted and tested like the Sigma pack.

A rule that needs fields of the raw record or raw enrichments (``long_term_key``) names them in
``raw_reads`` and its candidate rows in ``candidates(events)``; its ``evaluate(events, fields)``
then gets ``fields(name, rows)``, one value per row, read with the other rules' raw fields in
one pass (and fetched by id when the batch was read without ``raw``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from detectors.rules.context import BatchContext
from detectors.rules.model import Matches, RuleMeta

Result = np.ndarray | pd.Series | list[np.ndarray]
Fields = Callable[[str, np.ndarray], list[str | None]]
"""A field's values (columns, enrichments or raw paths, as text) over row positions."""
Evaluate = Callable[[pd.DataFrame], Result]
EvaluateWithFields = Callable[[pd.DataFrame, Fields], Result]


@dataclass
class PythonRule:
    """A Python detection: metadata (with tests) plus a vectorized ``evaluate``."""

    meta: RuleMeta
    function: Evaluate | EvaluateWithFields
    reads: frozenset[str] = frozenset()
    raw_reads: frozenset[str] = frozenset()
    candidates: Callable[[pd.DataFrame], np.ndarray] | None = None
    """Rows whose ``raw_reads`` the rule reads (a prefilter on columns); None: every row."""
    window: pd.Timedelta | None = None
    """A rule over a trailing window of rows (it returns row groups): how long. The watcher
    (``detectors.rules.stream``) carries its ``candidates`` that long across micro-batches."""

    def fields(self) -> frozenset[str]:
        return self.reads | self.raw_reads | frozenset(self.meta.dedup)

    def prepare(self, ctx: BatchContext) -> None:
        if not self.raw_reads or not ctx.n:
            return
        rows = np.arange(ctx.n) if self.candidates is None else self.candidates(ctx.events)
        if len(rows):
            ctx.want(self.raw_reads, np.asarray(rows, dtype=np.int64))

    def evaluate(self, ctx: BatchContext) -> Matches:
        cached = ctx.masks.get(self.meta.rule_id)
        if cached is not None:
            return cached
        if self.raw_reads:
            result = cast(EvaluateWithFields, self.function)(ctx.events, ctx.first_values)
        else:
            result = cast(Evaluate, self.function)(ctx.events)
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
    from detectors.rules.python.access_denied import (
        ACCESS_DENIED_BURST_PERSON,
        ACCESS_DENIED_BURST_WORKLOAD,
    )
    from detectors.rules.python.console import CONSOLE_LOGIN_FAILURE_BURST

    return [CONSOLE_LOGIN_FAILURE_BURST, ACCESS_DENIED_BURST_PERSON, ACCESS_DENIED_BURST_WORKLOAD]
