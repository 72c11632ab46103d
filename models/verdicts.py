"""What analysts' verdicts teach the models: windows to leave out of training, and baselines
widened after a false positive (recorded, shown in explanations, undoable).

Verdicts live in the alert store; this module is the models' side of them, plain values and a
JSON file in the registry (``adjustments.json``, replaced atomically; no pickle), so a detection
worker reads them like it reads the model, without a database session.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from pipelines.atomic import write_atomic
from pipelines.features import PrincipalHistory
from pipelines.features.functions import function_name
from pipelines.features.keys import ENTITY, utc_times


@dataclass(frozen=True)
class Excluded:
    """A true positive's window: its principal's (or resource's) events in it are an attack,
    not behaviour to learn."""

    provider: str | None
    account: str | None
    principal: str | None
    resource: str | None
    start: datetime
    end: datetime


def without_windows(batch: pd.DataFrame, windows: Sequence[Excluded]) -> pd.DataFrame:
    """``batch`` without the events of ``windows`` (hours around each alert, whole hours): by
    principal when the alert names one, else by resource (a function's flood)."""
    if batch.empty or not windows:
        return batch
    times = utc_times(batch["time"])
    principal = batch["principal"].astype("string[pyarrow]").fillna("")
    resource = batch["resource"].astype("string[pyarrow]").fillna("")
    account = batch["account"].astype("string[pyarrow]").fillna("")
    drop = np.zeros(len(batch), dtype=bool)
    names: pd.Series | None = None
    for w in windows:
        start = pd.Timestamp(w.start).floor("h")
        end = pd.Timestamp(w.end).floor("h") + pd.Timedelta(hours=1)
        inside = ((times >= start) & (times < end)).to_numpy(bool, copy=True)
        if w.account:
            inside = inside & (account == w.account).to_numpy(bool)
        if w.principal:
            inside = inside & (principal == w.principal).to_numpy(bool)
        elif w.resource:
            if names is None:
                names = function_name(resource)
            inside = inside & ((resource == w.resource) | (names == w.resource)).to_numpy(bool)
        else:
            continue  # an alert about nobody in particular: nothing precise to leave out
        drop = drop | inside
    return batch[~drop] if drop.any() else batch


SHOWN_CHARS: Final = 120
"""How much of a value a first-seen explanation shows (``detectors.anomaly.first_seen``); a
longer one is cut there, and an adjustment takes it whole from the alert's sample."""
NOVELTY_FEATURE: Final = "new "
"""First-seen explanations name their kinds ``new <kind>``: those values can be made known."""
WIDENED_RULES: Final = ("first-seen", "volume", "denial-of-wallet")


@dataclass(frozen=True)
class Adjustment:
    """A baseline changed by a verdict: after a false positive, the values now known to a
    principal (first-seen) or a floor under a series' alert bar (volume, denial-of-wallet);
    after a true positive, a first-seen alert's values kept unknown to its principal."""

    id: str
    rule_id: str
    alert_id: str
    provider: str | None
    account: str | None
    entity: str
    """The principal, or ``kind:key`` of a series."""
    created: str
    by: str | None = None
    values: list[list[str]] = field(default_factory=list)
    """First-seen: [kind, value] pairs made known."""
    floor: float | None = None
    """Volume / denial-of-wallet: windows up to this count no longer alert."""
    measure: str | None = None
    unlearned: bool = False
    """True positive: ``values`` stay new to the principal however often the daily history
    sees them again, so the attacker's return from the same address or tool alerts again."""

    def note(self) -> str:
        """How the explanation of a later alert on the same entity says it."""
        if self.unlearned:
            return (
                f"kept unknown {self.created[:10]} after true positive {self.alert_id[:8]}: "
                f"{len(self.values)} value(s) of the attack"
            )
        what = (
            f"{len(self.values)} value(s) made known"
            if self.values
            else f"alert bar at least {self.floor:g}"
        )
        return f"widened {self.created[:10]} after false positive {self.alert_id[:8]}: {what}"


def adjustment_from_alert(
    alert: dict[str, Any], by: str | None, now: datetime, *, confirmed: bool = False
) -> Adjustment | None:
    """The widening a false-positive verdict on ``alert`` (a stored alert as a dict: rule_id,
    provider, account, principal, resource, explanation, evidence...) asks for, or None;
    ``confirmed`` (a true positive): its first-seen values kept unknown instead, or None."""
    rule = str(alert.get("rule_id"))
    if alert.get("detector") != "anomaly" or rule not in WIDENED_RULES:
        return None
    if confirmed and rule != "first-seen":
        return None
    explanation = alert.get("explanation") or []
    base: dict[str, Any] = {
        "id": uuid.uuid4().hex[:16],
        "rule_id": rule,
        "alert_id": str(alert["id"]),
        "provider": alert.get("provider"),
        "account": alert.get("account"),
        "created": now.isoformat(),
        "by": by,
    }
    if rule == "first-seen":
        samples = (alert.get("evidence") or {}).get("sample") or []
        values = [
            [kind, _logged(kind, str(d["observed"]), samples)]
            for d in explanation
            if str(d.get("feature", "")).startswith(NOVELTY_FEATURE)
            and d.get("feature") != "new principal"
            for kind in [str(d["feature"])[len(NOVELTY_FEATURE) :]]
        ]
        if not values or not alert.get("principal"):
            return None
        entity = str(alert["principal"])
        return Adjustment(**base, entity=entity, values=values, unlearned=confirmed)
    series = _series(alert)
    counts = [d.get("observed") for d in explanation if isinstance(d.get("observed"), int | float)]
    if series is None or not counts:
        return None
    measure = "invocations" if rule == "denial-of-wallet" else _measure(explanation)
    floor = float(max(counts)) * 1.1
    return Adjustment(**base, entity=series, floor=floor, measure=measure)


def _logged(kind: str, shown: str, samples: Sequence[dict[str, Any]]) -> str:
    """The value as logged: an explanation shows a long one (a browser's or gcloud's user
    agent) cut to ``SHOWN_CHARS``, which would match nothing in the history; the alert's sample
    records hold it whole. A shorter value is whole already (``10.0.0.1`` is not ``10.0.0.12``)."""
    if len(shown) < SHOWN_CHARS:
        return shown
    for record in samples:
        value = record.get(kind)
        if isinstance(value, str) and value.startswith(shown):
            return value
    return shown


def _series(alert: dict[str, Any]) -> str | None:
    """``kind:key`` of a series alert, from its dedup key (``anomaly|rule|acct|kind:key|win``)."""
    parts = str(alert.get("dedup_key", "")).split("|")
    return parts[3] if len(parts) >= 5 and ":" in parts[3] else None


def _measure(explanation: Iterable[dict[str, Any]]) -> str:
    for d in explanation:
        feature = str(d.get("feature", ""))
        if feature.startswith("errors"):
            return "errors"
        if feature.startswith("error rate"):
            return "error_rate"
    return "events"


class Adjustments:
    """The registry's ``adjustments.json``: every widening in force, oldest first."""

    def __init__(self, registry_root: Path) -> None:
        self.path = Path(registry_root) / "adjustments.json"

    def items(self) -> list[Adjustment]:
        if not self.path.is_file():
            return []
        data = json.loads(self.path.read_text())
        return [Adjustment(**item) for item in data.get("adjustments", [])]

    def add(self, adjustment: Adjustment) -> Adjustment:
        self._write([*self.items(), adjustment])
        return adjustment

    def remove(self, adjustment_id: str) -> bool:
        """Undo one widening; False when there is no such id."""
        kept = [a for a in self.items() if a.id != adjustment_id]
        found = len(kept) != len(self.items())
        if found:
            self._write(kept)
        return found

    def _write(self, items: list[Adjustment]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"adjustments": [asdict(a) for a in items]}, indent=1)
        write_atomic(self.path, body.encode())


def adjust_history(
    history: PrincipalHistory, adjustments: Sequence[Adjustment]
) -> PrincipalHistory:
    """``history`` with each false positive's first-seen values known to its principal, and each
    true positive's unknown to it again (applied after the day summaries that learned them)."""
    widened = [a for a in adjustments if a.rule_id == "first-seen" and not a.unlearned]
    unlearned = [a for a in adjustments if a.rule_id == "first-seen" and a.unlearned]
    seen = history.seen
    if any(a.values for a in widened):
        known = _values(widened)
        stamp = pd.Timestamp(min(a.created for a in widened if a.values))
        extra = known.assign(first_seen=stamp, last_seen=stamp).astype(
            {"first_seen": "datetime64[us, UTC]", "last_seen": "datetime64[us, UTC]"}
        )
        seen = pd.concat([seen, extra], ignore_index=True).drop_duplicates(
            [*ENTITY, "kind", "value"], keep="first"
        )
    if any(a.values for a in unlearned):
        keys = [*ENTITY, "kind", "value"]
        attack = list(_values(unlearned).itertuples(index=False, name=None))
        learned = pd.MultiIndex.from_frame(seen[keys].astype(object).fillna(""))
        seen = seen[~learned.isin(attack)].reset_index(drop=True)
    if seen is history.seen:
        return history
    return PrincipalHistory(history.principals, seen, history.hours)


def _values(adjustments: Sequence[Adjustment]) -> pd.DataFrame:
    """The (provider, account, principal, kind, value) rows the adjustments name."""
    rows = [
        (a.provider or "", a.account or "", a.entity, kind, value)
        for a in adjustments
        for kind, value in a.values
    ]
    return pd.DataFrame(rows, columns=[*ENTITY, "kind", "value"])


def series_floors(
    adjustments: Sequence[Adjustment],
) -> dict[tuple[str, str, str, str], tuple[float, str]]:
    """(provider, account, ``kind:key``, measure) -> (floor, note) of series adjustments."""
    out: dict[tuple[str, str, str, str], tuple[float, str]] = {}
    for a in adjustments:
        if a.floor is None or a.measure is None:
            continue
        key = (a.provider or "", a.account or "", a.entity, a.measure)
        if key not in out or a.floor > out[key][0]:
            out[key] = (a.floor, a.note())
    return out


def principal_notes(adjustments: Sequence[Adjustment]) -> dict[tuple[str, str, str], str]:
    """(provider, account, principal) -> the note of its latest first-seen adjustment."""
    return {
        (a.provider or "", a.account or "", a.entity): a.note()
        for a in adjustments
        if a.rule_id == "first-seen"
    }
