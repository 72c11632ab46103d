"""Sigma detection rules and Sigma correlations, as ``Rule`` implementations."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.rule import SigmaRule

from detectors.rules.compile import Node, compile_condition
from detectors.rules.context import BatchContext, is_row_level
from detectors.rules.model import Matches, RuleMeta

PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.@-]+)\}")


def template_fields(template: str | None) -> set[str]:
    return set(PLACEHOLDER.findall(template or ""))


@dataclass
class SigmaDetectionRule:
    """A Sigma rule compiled to a vectorized predicate tree."""

    meta: RuleMeta
    sigma: SigmaRule
    tree: Node
    _decided: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, meta: RuleMeta, sigma: SigmaRule) -> SigmaDetectionRule:
        conditions = [compile_condition(c.parsed) for c in sigma.detection.parsed_condition]
        tree = conditions[0] if len(conditions) == 1 else Node("or", conditions)
        return cls(meta, sigma, tree)

    def fields(self) -> frozenset[str]:
        refs = {ref for leaf in self.tree.leaves() for ref in leaf.refs}
        return frozenset(refs | template_fields(self.meta.title_template) | set(self.meta.dedup))

    def prepare(self, ctx: BatchContext) -> None:
        lo, hi = self.tree.bounds(ctx)
        undecided = np.flatnonzero(hi & ~lo)
        self._decided[id(ctx)] = (lo, undecided)
        if len(undecided):
            raw = {ref for leaf in self.tree.leaves() if leaf.row_level for ref in leaf.refs}
            ctx.want({f for f in raw if is_row_level(f)}, undecided)

    def evaluate(self, ctx: BatchContext) -> Matches:
        cached = ctx.masks.get(self.meta.rule_id)
        if cached is not None:
            return cached
        decided = self._decided.pop(id(ctx), None)
        if decided is None:
            self.prepare(ctx)
            ctx.load()
            decided = self._decided.pop(id(ctx))
        lo, undecided = decided
        mask = lo.copy()
        if len(undecided):
            mask[undecided] = self.tree.evaluate(ctx, undecided)
        ctx.masks[self.meta.rule_id] = mask
        return mask


@dataclass
class SigmaCorrelation:
    """``event_count``, ``value_count`` or ``temporal`` over the rows of its base rules.

    Windows: every matching row closes a trailing window of ``timespan`` per group; where the
    condition holds, that window fires, and overlapping firing windows merge into one alert whose
    evidence is every base-rule row of the group inside the merged window.
    """

    meta: RuleMeta
    sigma: SigmaCorrelationRule
    bases: list[SigmaDetectionRule]

    @property
    def condition(self) -> SigmaCorrelationCondition:
        cond = self.sigma.condition
        if not isinstance(cond, SigmaCorrelationCondition):
            raise ValueError(f"{self.meta.rule_id}: extended correlation conditions unsupported")
        return cond

    @property
    def value_field(self) -> str | None:
        ref = self.condition.fieldref
        if isinstance(ref, list):
            if len(ref) != 1:
                raise ValueError(f"{self.meta.rule_id}: value_count takes exactly one field")
            ref = ref[0]
        return str(ref) if ref else None

    def fields(self) -> frozenset[str]:
        names = set(self.sigma.group_by or [])
        if self.value_field:
            names.add(self.value_field)
        return frozenset(names | template_fields(self.meta.title_template) | set(self.meta.dedup))

    def prepare(self, ctx: BatchContext) -> None:
        for base in self.bases:
            if base.meta.rule_id not in ctx.masks and id(ctx) not in base._decided:
                base.prepare(ctx)

    def evaluate(self, ctx: BatchContext) -> Matches:
        masks = [np.asarray(base.evaluate(ctx)) for base in self.bases]
        rows = np.flatnonzero(np.logical_or.reduce(masks)) if masks else np.array([], int)
        if not len(rows):
            return []
        frame = pd.DataFrame({"row": rows, "time": ctx.events["time"].iloc[rows].to_numpy()})
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        group_by = list(self.sigma.group_by or [])
        for i, name in enumerate(group_by):
            frame[f"g{i}"] = pd.Series(ctx.first_values(name, rows), dtype=object).fillna("")
        keys = [f"g{i}" for i in range(len(group_by))]
        if not keys:
            frame["g"] = ""
            keys = ["g"]
        frame = frame.sort_values([*keys, "time", "row"], kind="stable").reset_index(drop=True)
        span = pd.Timedelta(seconds=self.sigma.timespan.seconds)
        value = self._window_values(ctx, frame, masks, keys, span)
        fired = self._holds(value)
        if not fired.any():
            return []
        return _merge_windows(frame, keys, fired, span)

    def _window_values(
        self,
        ctx: BatchContext,
        frame: pd.DataFrame,
        masks: list[np.ndarray],
        keys: list[str],
        span: pd.Timedelta,
    ) -> np.ndarray:
        kind = self.sigma.type
        indexed = frame.set_index("time")
        grouped = indexed.groupby(keys, sort=False)
        window = f"{int(span.total_seconds())}s"
        if kind == SigmaCorrelationType.EVENT_COUNT:
            counts = grouped["row"].rolling(window, closed="both").count()
            return counts.to_numpy()
        if kind == SigmaCorrelationType.VALUE_COUNT:
            fieldref = self.value_field
            if not fieldref:
                raise ValueError(f"{self.meta.rule_id}: value_count needs condition.field")
            values = ctx.first_values(fieldref, frame["row"].to_numpy())
            codes, _ = pd.factorize(pd.Series(values, dtype=object))
            indexed = indexed.assign(code=codes.astype(float))
            indexed.loc[indexed["code"] < 0, "code"] = np.nan
            grouped = indexed.groupby(keys, sort=False)
            distinct = (
                grouped["code"]
                .rolling(window, closed="both")
                .apply(lambda x: len(np.unique(x[~np.isnan(x)])), raw=True)
            )
            return distinct.to_numpy()
        if kind == SigmaCorrelationType.TEMPORAL:
            rows = frame["row"].to_numpy()
            present = []
            for i, mask in enumerate(masks):
                col = f"r{i}"
                indexed[col] = mask[rows].astype(float)
                seen = indexed.groupby(keys, sort=False)[col].rolling(window, closed="both").max()
                present.append(seen.to_numpy() > 0)
            return np.sum(present, axis=0).astype(float)
        raise ValueError(f"{self.meta.rule_id}: unsupported correlation type {kind}")

    def _holds(self, value: np.ndarray) -> np.ndarray:
        cond = self.condition
        op = cond.op.name.lower()
        target = float(cond.count if cond.count is not None else 0)
        if self.sigma.type == SigmaCorrelationType.TEMPORAL and cond.count is None:
            target, op = float(len(self.bases)), "gte"
        compare = {
            "gte": np.greater_equal,
            "gt": np.greater,
            "lte": np.less_equal,
            "lt": np.less,
            "eq": np.equal,
            "neq": np.not_equal,
        }[op]
        return np.asarray(compare(value, target), dtype=bool)


def _merge_windows(
    frame: pd.DataFrame, keys: list[str], fired: np.ndarray, span: pd.Timedelta
) -> list[np.ndarray]:
    """Merge overlapping firing windows per group; collect each merged window's rows."""
    # rolling output follows the groupby order (group by first appearance, then time), which is
    # the frame's sort order because the frame is sorted by the keys first.
    ends = frame.loc[fired, [*keys, "time"]].copy()
    ends["start"] = ends["time"] - span
    ends = ends.rename(columns={"time": "end"})
    previous_end = ends.groupby(keys, sort=False)["end"].shift()
    ends["window"] = (previous_end.isna() | (ends["start"] > previous_end)).cumsum()
    windows = ends.groupby("window").agg(
        start=("start", "min"), end=("end", "max"), **{k: (k, "first") for k in keys}
    )
    merged = frame.merge(windows.reset_index(), on=keys)
    inside = merged[(merged["time"] >= merged["start"]) & (merged["time"] <= merged["end"])]
    return [
        np.unique(group["row"].to_numpy(dtype=np.int64))
        for _, group in inside.groupby("window", sort=True)
    ]
