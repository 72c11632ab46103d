"""The logging-configuration change behind a coverage drop, found in the lake.

A trail stopped (``StopLogging``, ``DeleteTrail``), redirected (``UpdateTrail``) or its event
selectors rewritten (``PutEventSelectors``, ``PutAdvancedEventSelectors``) stops CloudTrail
events or only its data events; a ``SetIamPolicy`` that carries ``auditConfigs`` turns Data
Access logs off (or on), and a sink changed or deleted stops what the sink exported. The change
is logged before the drop, so the account's own events name who made it. Looked up only for a
finding, with the lake's partition and row-group pruning (files are sorted by account).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipelines.events import EVENT_COLUMNS
from pipelines.lake import EventLake

AWS_CHANGES: Final = (
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "PutAdvancedEventSelectors",
)
GCP_CHANGES: Final = ("SetIamPolicy", "UpdateSink", "DeleteSink")
LOOK_BACK: Final = timedelta(hours=24)
"""How long before the drop a change is looked for."""


def logging_change(
    lake: EventLake, provider: str, account: str, lost_at: datetime, until: datetime
) -> dict[str, Any] | None:
    """The logging change of ``account`` closest to ``lost_at`` within ``LOOK_BACK`` before it
    and ``until`` after, as a normalized record (time ISO 8601 Z, raw decoded); None if none."""
    dataset = lake.dataset()
    if dataset is None:
        return None
    start = (lost_at - LOOK_BACK).astimezone(UTC)
    end = until.astimezone(UTC)
    actions = AWS_CHANGES if provider == "aws" else GCP_CHANGES
    expr = (
        (ds.field("provider") == provider)
        & (ds.field("date") >= start.date())
        & (ds.field("date") <= end.date())
        & (ds.field("account") == account)
        & ds.field("action").isin(list(actions))
        & (ds.field("time") >= start)
        & (ds.field("time") <= end)
        & (ds.field("outcome") == "success")
    )
    found = dataset.to_table(columns=list(EVENT_COLUMNS), filter=expr)
    if provider == "gcp" and found.num_rows:
        set_policy = pc.equal(found["action"], "SetIamPolicy")
        audit = pc.match_substring(found["raw"], "auditConfig")
        found = found.filter(pc.or_(pc.invert(set_policy), pc.fill_null(audit, False)))
    if not found.num_rows:
        return None
    rows = found.to_pylist()
    best = min(rows, key=lambda row: abs((row["time"] - lost_at).total_seconds()))
    return _sample(best)


def _sample(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    moment = out.get("time")
    if isinstance(moment, datetime):
        out["time"] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raw = out.get("raw")
    if isinstance(raw, str):
        with contextlib.suppress(orjson.JSONDecodeError):
            out["raw"] = orjson.loads(raw)
    return out
