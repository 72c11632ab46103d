"""A compact per-principal summary of past behaviour, the baseline novelty features compare to.

Built from the lake and updated day by day (in time order), it keeps, per principal: first and
last seen, active days, an hour-of-day histogram, and per novelty kind the values seen with
their first and last use. It is three small tables, stored as Parquet: no pickles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from pipelines.features.keys import ENTITY, novelty_codes, utc_times

MAX_VALUES_PER_KIND: Final = 512
"""Per principal and kind, only the most recently used values are kept: bounded memory even for
CI roles that call from a new runner address every time (their high novelty rate is kept)."""

_PRINCIPALS = [*ENTITY, "first_seen", "last_seen", "active_days", "events"]


def _stamp(micros: np.ndarray) -> pd.Series:
    return pd.Series(micros.astype("datetime64[us]")).dt.tz_localize("UTC")


def entity_frame(events: pd.DataFrame) -> pd.DataFrame:
    """The entity columns as plain strings (null principals become ``""``: still one entity)."""
    return pd.DataFrame(
        {c: events[c].astype("string[pyarrow]").fillna("").to_numpy(dtype=object) for c in ENTITY},
        index=events.index,
    )


@dataclass(frozen=True)
class PrincipalHistory:
    """What each principal did before: the baseline of novelty and usual-hours features.

    ``principals``: entity, first_seen, last_seen, active_days, events.
    ``seen``: entity, kind, value, first_seen, last_seen (bounded per kind).
    ``hours``: entity, hour (0-23), events.
    """

    principals: pd.DataFrame
    seen: pd.DataFrame
    hours: pd.DataFrame

    @classmethod
    def empty(cls) -> PrincipalHistory:
        """No past at all: every principal is new (and, by the cold-start rule, not scored)."""
        principals = pd.DataFrame(
            {
                **{c: pd.Series(dtype=object) for c in ENTITY},
                "first_seen": pd.Series(dtype="datetime64[us, UTC]"),
                "last_seen": pd.Series(dtype="datetime64[us, UTC]"),
                "active_days": pd.Series(dtype="int64"),
                "events": pd.Series(dtype="int64"),
            }
        )
        seen = pd.DataFrame(
            {
                **{c: pd.Series(dtype=object) for c in (*ENTITY, "kind", "value")},
                "first_seen": pd.Series(dtype="datetime64[us, UTC]"),
                "last_seen": pd.Series(dtype="datetime64[us, UTC]"),
            }
        )
        hours = pd.DataFrame(
            {
                **{c: pd.Series(dtype=object) for c in ENTITY},
                "hour": pd.Series(dtype="int64"),
                "events": pd.Series(dtype="int64"),
            }
        )
        return cls(principals, seen, hours)

    @classmethod
    def from_events(cls, events: pd.DataFrame) -> PrincipalHistory:
        """Summarize one batch (typically a day) of events."""
        if events.empty:
            return cls.empty()
        ent = entity_frame(events)
        time = utc_times(events["time"])
        frame = ent.assign(time=time, day=time.dt.floor("D"), hour=time.dt.hour.astype("int64"))
        grouped = frame.groupby(list(ENTITY), sort=True)
        principals = grouped.agg(
            first_seen=("time", "min"),
            last_seen=("time", "max"),
            active_days=("day", "nunique"),
            events=("time", "size"),
        ).reset_index()
        hours = frame.groupby([*ENTITY, "hour"], sort=True).size().rename("events").reset_index()
        entity = frame.groupby(list(ENTITY), sort=True).ngroup().to_numpy(np.int64)
        firsts = principals[list(ENTITY)]
        stamp = time.dt.tz_convert(None).to_numpy().astype("datetime64[us]").astype(np.int64)
        parts = []
        for kind, (codes, uniques) in novelty_codes(events).items():
            width = np.int64(len(uniques) + 1)
            key = pd.Series(stamp).groupby(entity * width + codes).agg(["min", "max"])
            pair = key.index.to_numpy(np.int64)
            values = uniques[pair % width]
            keep = values != ""
            part = firsts.iloc[pair[keep] // width].reset_index(drop=True)
            parts.append(
                part.assign(
                    kind=kind,
                    value=values[keep],
                    first_seen=_stamp(key["min"].to_numpy()[keep]),
                    last_seen=_stamp(key["max"].to_numpy()[keep]),
                )
            )
        seen = pd.concat(parts, ignore_index=True)
        return cls(principals[_PRINCIPALS], _bounded(seen), hours)

    def update(self, events: pd.DataFrame) -> PrincipalHistory:
        """This history followed by ``events`` (later in time): how the daily job moves it on."""
        return self.merge(PrincipalHistory.from_events(events))

    def merge(self, later: PrincipalHistory) -> PrincipalHistory:
        """Combine with a summary of later events; a day both summaries touch counts once."""
        if self.principals.empty:
            return later
        if later.principals.empty:
            return self
        both = pd.concat([self.principals, later.principals], ignore_index=True)
        grouped = both.groupby(list(ENTITY), sort=True)
        principals = grouped.agg(
            first_seen=("first_seen", "min"),
            last_seen=("last_seen", "max"),
            active_days=("active_days", "sum"),
            events=("events", "sum"),
        ).reset_index()
        overlap = self.principals.merge(later.principals, on=list(ENTITY), suffixes=("_a", "_b"))
        same_day = overlap["last_seen_a"].dt.floor("D") == overlap["first_seen_b"].dt.floor("D")
        if same_day.any():
            fix = overlap.loc[same_day, list(ENTITY)].assign(_overlap=1)
            principals = principals.merge(fix, on=list(ENTITY), how="left")
            principals["active_days"] -= principals.pop("_overlap").fillna(0).astype("int64")
        seen = (
            pd.concat([self.seen, later.seen], ignore_index=True)
            .groupby([*ENTITY, "kind", "value"], sort=False)
            .agg(first_seen=("first_seen", "min"), last_seen=("last_seen", "max"))
            .reset_index()
        )
        hours = (
            pd.concat([self.hours, later.hours], ignore_index=True)
            .groupby([*ENTITY, "hour"], sort=True)["events"]
            .sum()
            .reset_index()
        )
        return PrincipalHistory(principals, _bounded(seen), hours)

    def seen_counts(self) -> pd.DataFrame:
        """Per principal and kind, how many distinct values it has used (the novelty rate base)."""
        return (
            self.seen.groupby([*ENTITY, "kind"], sort=False).size().rename("values").reset_index()
        )

    def save(self, folder: Path) -> None:
        """Write the three tables as Parquet into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.principals.to_parquet(folder / "principals.parquet", index=False)
        self.seen.to_parquet(folder / "seen.parquet", index=False)
        self.hours.to_parquet(folder / "hours.parquet", index=False)

    @classmethod
    def load(cls, folder: Path) -> PrincipalHistory:
        """Read what ``save`` wrote; strings come back as plain Python objects."""
        empty = cls.empty()
        tables = []
        for name, like in (
            ("principals", empty.principals),
            ("seen", empty.seen),
            ("hours", empty.hours),
        ):
            table = pd.read_parquet(folder / f"{name}.parquet")
            tables.append(table.astype(like.dtypes.to_dict()) if len(table) else like)
        return cls(*tables)


def _bounded(seen: pd.DataFrame) -> pd.DataFrame:
    """Keep the ``MAX_VALUES_PER_KIND`` most recently used values per principal and kind."""
    if seen.empty:
        return seen
    order = seen.sort_values([*ENTITY, "kind", "last_seen"], ascending=[True] * 4 + [False])
    rank = order.groupby([*ENTITY, "kind"], sort=False).cumcount()
    return order[rank.to_numpy() < MAX_VALUES_PER_KIND].reset_index(drop=True)
