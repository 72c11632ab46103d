"""What principals did earlier in the same run, for batches that are time slices of one run.

A partition too large for memory is detected one time slice (whole windows) after another.
Per-principal features are per window, so a slice computes them alone, except for what a
single batch learns from its own earlier windows: a value is new only in the first window it
appears in, recency counts from the principal's previous window, and a principal with no
history is a newcomer only in its first window. ``EarlierWindows`` carries exactly that from
one slice to the next. It is kept apart from ``PrincipalHistory`` on purpose: merging today's
slices into the history would count today as an active day (``history_days``), measure
recency from the last event instead of the last window, and bound the values kept per kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.features.history import entity_frame
from pipelines.features.keys import ENTITY, novelty_codes
from pipelines.features.principal import window_start


@dataclass(frozen=True)
class EarlierWindows:
    """Values each principal used, and its last window, in the slices before this one.

    ``seen``: entity, kind, value (every distinct pair, unbounded: one day of one partition).
    ``last_window``: entity, window (the start of its latest window so far).
    """

    seen: pd.DataFrame
    last_window: pd.DataFrame

    @classmethod
    def empty(cls) -> EarlierWindows:
        """Before the first slice: nothing was seen."""
        text = {c: pd.Series(dtype=object) for c in (*ENTITY, "kind", "value")}
        return cls(
            pd.DataFrame(text),
            pd.DataFrame(
                {
                    **{c: text[c] for c in ENTITY},
                    "window": pd.Series(dtype="datetime64[us, UTC]"),
                }
            ),
        )

    def then(self, events: pd.DataFrame, window: str) -> EarlierWindows:
        """These windows followed by ``events`` (a later slice, rows with a principal)."""
        if events.empty:
            return self
        ent = entity_frame(events)
        grouped = ent.groupby(list(ENTITY), sort=True)
        entity = grouped.ngroup().to_numpy(np.int64)
        keys = grouped.size().reset_index()[list(ENTITY)]
        parts = [self.seen]
        for kind, (codes, uniques) in novelty_codes(events).items():
            width = np.int64(len(uniques) + 1)
            pairs = np.unique(entity * width + codes)
            values = uniques[pairs % width]
            keep = values != ""
            part = keys.iloc[pairs[keep] // width].reset_index(drop=True)
            parts.append(part.assign(kind=kind, value=values[keep]))
        seen = pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)
        latest = ent.assign(window=window_start(events["time"], window))
        last = (
            pd.concat([self.last_window, latest], ignore_index=True)
            .groupby(list(ENTITY), sort=True)["window"]
            .max()
            .reset_index()
        )
        return EarlierWindows(seen, last)

    def seen_of(self, kind: str) -> pd.DataFrame:
        """Entity and value of the pairs of one kind."""
        return self.seen.loc[self.seen["kind"] == kind, [*ENTITY, "value"]]
