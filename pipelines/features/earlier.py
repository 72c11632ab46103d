"""What principals did earlier in the same run, for batches that are time slices of one run.

A partition too large for memory is detected one time slice after another. Per-principal
features are per window, so a slice computes them alone (a window a cut falls inside: its
pieces' partial aggregates, combined by ``combine_aggregates``), except for what a single
batch learns from its own earlier windows: a value is new only in the first window it
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
    ``last_window``: entity, window (the start of its latest window so far), previous (the
    latest before that, or NaT): a slice may start inside a window, whose earlier pieces are
    then in ``seen`` (so pieces count new values once) but not in ``before``.
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
                    "previous": pd.Series(dtype="datetime64[us, UTC]"),
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
        old = self.last_window
        windows = pd.concat(
            [
                old[[*ENTITY, "window"]],
                old[[*ENTITY, "previous"]].rename(columns={"previous": "window"}),
                latest.drop_duplicates(),
            ],
            ignore_index=True,
        ).dropna(subset=["window"])
        by_entity = windows.groupby(list(ENTITY), sort=True)["window"]
        last = by_entity.max()
        before = windows[windows["window"] < by_entity.transform("max")]
        previous = before.groupby(list(ENTITY), sort=True)["window"].max().rename("previous")
        joined = pd.concat([last, previous], axis=1).reset_index()
        joined["previous"] = joined["previous"].astype("datetime64[us, UTC]")
        return EarlierWindows(seen, joined[[*ENTITY, "window", "previous"]])

    def before(self, rows: pd.DataFrame) -> pd.Series:
        """Per row (entity, window): the principal's latest window of the earlier slices that
        starts before the row's (NaT if none), aligned to ``rows``."""
        found = rows[[*ENTITY, "window"]].merge(
            self.last_window.rename(columns={"window": "_last"}), on=list(ENTITY), how="left"
        )
        earlier = found["_last"].where(found["_last"] < found["window"], found["previous"])
        return earlier.set_axis(rows.index)

    def seen_of(self, kind: str) -> pd.DataFrame:
        """Entity and value of the pairs of one kind."""
        return self.seen.loc[self.seen["kind"] == kind, [*ENTITY, "value"]]
