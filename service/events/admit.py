"""What a push may bring: records inside its key's scopes, dated within the window.

Pushed records are the one input an outsider writes (with an ingest key), so beyond the
provenance rules of the lake they must stay where the key may write: its providers and
accounts (a record outside is a 403 for the whole push: nothing of it is stored), and times
no later than a day ahead nor older than the retention window (each such record is a reject
with its reason; the year 1 and 9999 records the review pushed were taken).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.rejects import Reject, snippet_of
from service.keys.store import KeyIdentity

FUTURE_SLACK = timedelta(days=1)
SHOWN = 3


def outside_scopes(events: pa.Table, key: KeyIdentity) -> list[str]:
    """The distinct ``provider:account`` of records the key may not push (empty: all may)."""
    if key.scopes is None or not events.num_rows:
        return []
    pairs = events.select(["provider", "account"]).group_by(["provider", "account"]).aggregate([])
    return [
        f"{provider}:{account}"
        for provider, account in zip(
            pairs["provider"].to_pylist(), pairs["account"].to_pylist(), strict=True
        )
        if not key.admits(provider, account)
    ]


def scope_detail(outside: list[str], key: KeyIdentity) -> str:
    """The 403's words: what was outside (a few, bounded: account names are the pusher's)."""
    shown = ", ".join(repr(item[:80]) for item in outside[:SHOWN])
    more = f" and {len(outside) - SHOWN} more" if len(outside) > SHOWN else ""
    scopes = ", ".join(key.scopes or ())
    return f"records outside this key's scopes ({scopes}): {shown}{more}; nothing was stored"


def within_window(
    events: pa.Table, source: str, *, now: datetime, retention_days: int
) -> tuple[pa.Table, list[Reject]]:
    """The records dated within [now - retention, now + 1 day], and a reject for each other."""
    if not events.num_rows:
        return events, []
    kind = events.schema.field("time").type
    late = pc.greater(events["time"], pa.scalar(now + FUTURE_SLACK, kind))
    old = pc.less(events["time"], pa.scalar(now - timedelta(days=retention_days), kind))
    bad = pc.or_(late, old)
    if not pc.any(bad).as_py():
        return events, []
    rejects = []
    for row, is_late in zip(
        events.filter(bad).select(["id", "time", "raw"]).to_pylist(),
        late.filter(bad).to_pylist(),
        strict=True,
    ):
        when = row["time"].isoformat().replace("+00:00", "Z")
        why = (
            "more than a day in the future"
            if is_late
            else f"older than the retention window ({retention_days} days)"
        )
        reason = f"event {row['id'][:128]!r} is dated {when}: {why}"
        rejects.append(Reject(source, None, reason, snippet_of(row["raw"] or "")))
    return events.filter(pc.invert(bad)), rejects
