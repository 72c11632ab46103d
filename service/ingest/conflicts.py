"""``event_id_conflict``: two records with one id and different content (DESIGN.md, Provenance).

The lake keeps one of them (a pulled record over a pushed one, else the first) and reports the
conflict (``pipelines.provenance.Conflict``); here each becomes a high alert citing both
records, stored and queued for webhooks like any other. The alert id follows the event id and
its time, so a conflict found again (a rerun) folds into the same alert.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from detectors.alert import Alert, Evidence, alert_id, dedup_key
from pipelines.provenance import Conflict
from service.alerts.store import SavedAlert, save_alerts
from service.webhooks.outbox import enqueue_for_alerts

RULE_ID = "event_id_conflict"
DETECTOR = "provenance"
TAGS = ["T1565.001", "T1070", "provenance"]
"""ATT&CK: Stored Data Manipulation; Indicator Removal (hiding the real record)"""
RUNBOOK = (
    "Two records arrived with one event id and different content; the lake keeps the one "
    "from the source (a pulled record wins over a pushed one) and both are in the evidence "
    "with their origin. A pushed record (origin push:<key id>) that reuses a real event id "
    "tried to hide that event: find the ingest key by its id (functrail keys list), revoke it "
    "if the push was not yours, and review the kept record for what it would have hidden. Two "
    "pulled records that differ point at a source or a trail that rewrites its records."
)
_ID_CHARS = 128


def conflict_alerts(conflicts: Sequence[Conflict]) -> list[Alert]:
    """One high alert per conflict, citing both records."""
    return [_alert(conflict) for conflict in conflicts]


def store_conflicts(session: Session, conflicts: Sequence[Conflict]) -> list[SavedAlert]:
    """Save the conflicts' alerts and queue their deliveries (flushes, does not commit)."""
    saved = save_alerts(session, conflict_alerts(conflicts))
    enqueue_for_alerts(session, saved)
    return saved


def _alert(conflict: Conflict) -> Alert:
    kept, other = conflict.kept, conflict.other
    times = [t for t in (kept.get("time"), other.get("time")) if isinstance(t, datetime)]
    first, last = min(times), max(times)
    key = dedup_key(DETECTOR, RULE_ID, conflict.provider, conflict.id)
    shown = conflict.id if len(conflict.id) <= _ID_CHARS else conflict.id[:_ID_CHARS] + "..."
    return Alert(
        id=alert_id(key, first),
        dedup_key=key,
        detector=DETECTOR,
        rule_id=RULE_ID,
        title=(
            f"Two different records share event id {shown}: {_origin(kept)} (kept) and "
            f"{_origin(other)}"
        ),
        severity="high",
        score=1.0,
        provider=conflict.provider,
        account=_text(kept.get("account")),
        principal=_text(kept.get("principal")),
        resource=_text(kept.get("resource")),
        first_seen=first,
        last_seen=last,
        tags=list(TAGS),
        evidence=Evidence(event_ids=[conflict.id], sample=[_sample(kept), _sample(other)]),
        runbook=RUNBOOK,
    )


def _origin(record: dict[str, Any]) -> str:
    return str(record.get("origin") or "an unrecorded origin")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _sample(record: dict[str, Any]) -> dict[str, Any]:
    """A record as alert samples hold them: time ISO 8601 Z, raw decoded when it is JSON."""
    out = dict(record)
    moment = out.get("time")
    if isinstance(moment, datetime):
        out["time"] = moment.isoformat().replace("+00:00", "Z")
    raw = out.get("raw")
    if isinstance(raw, str):
        with contextlib.suppress(orjson.JSONDecodeError):
            out["raw"] = orjson.loads(raw)
    return out
