"""The Alert of DESIGN.md (a contract): what every detector produces and the store keeps."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["info", "low", "medium", "high", "critical"]
Status = Literal["open", "acknowledged", "resolved", "suppressed"]
Disposition = Literal["true_positive", "false_positive", "benign"]
"""An analyst's verdict, given when resolving: what the models learn from (issue 14)."""

SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}

EVIDENCE_SAMPLE_LIMIT = 5
"""How many normalized records an alert carries as its sample: enough to triage, bounded."""

_ALERT_NAMESPACE = uuid.UUID("6f1c3c52-3c1e-4f43-9a53-4b8f1f7c2a10")


def dedup_key(detector: str, rule_id: str, *entity: str | None) -> str:
    """Detector + rule + the entity an alert concerns; repeats of the same key fold together."""
    parts = [detector, rule_id, *(e or "-" for e in entity)]
    return "|".join(parts)


def alert_id(key: str, first_seen: datetime) -> str:
    """Stable id: the same dedup key first seen at the same instant is the same alert."""
    return str(uuid.uuid5(_ALERT_NAMESPACE, f"{key}@{first_seen.isoformat()}"))


def short_hash(text: str) -> str:
    """A short, stable digest for keys built from long or hostile values."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class Evidence(BaseModel):
    """The ids of the events that raised an alert, and a bounded sample of their records."""

    event_ids: list[str] = Field(default_factory=list)
    sample: list[dict[str, Any]] = Field(default_factory=list)


class Deviation(BaseModel):
    """One feature that made an anomaly: what was seen against what is usual."""

    feature: str
    observed: float | str
    baseline: str
    detail: str | None = None


class Alert(BaseModel):
    """One alert; ``count``, ``first_seen`` and ``last_seen`` grow as repeats fold into it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    dedup_key: str
    detector: str
    rule_id: str
    title: str
    severity: Severity
    score: float = Field(ge=0.0, le=1.0)
    provider: str | None = None
    account: str | None = None
    principal: str | None = None
    resource: str | None = None
    first_seen: datetime
    last_seen: datetime
    count: int = Field(default=1, ge=1)
    status: Status = "open"
    tags: list[str] = Field(default_factory=list)
    evidence: Evidence = Field(default_factory=Evidence)
    explanation: list[Deviation] | None = None
    runbook: str | None = None


def fold(alerts: list[Alert]) -> list[Alert]:
    """Fold alerts that share a ``dedup_key`` into one, as the store does within its window.

    The earliest occurrence keeps its id; counts add up; evidence ids are unioned and the sample
    stays bounded. Order of first appearance is kept so output is deterministic. The inputs are
    never changed; an alert with nothing to fold is returned as it is (a deep copy of each cost
    3 ms per alert of a busy rule: 1,900 evidence ids).
    """
    folded: dict[str, Alert] = {}
    for alert in alerts:
        have = folded.get(alert.dedup_key)
        if have is None:
            folded[alert.dedup_key] = alert
            continue
        earlier, later = (have, alert) if have.first_seen <= alert.first_seen else (alert, have)
        ids = list(dict.fromkeys([*earlier.evidence.event_ids, *later.evidence.event_ids]))
        sample = (earlier.evidence.sample + later.evidence.sample)[:EVIDENCE_SAMPLE_LIMIT]
        folded[alert.dedup_key] = earlier.model_copy(
            update={
                "first_seen": earlier.first_seen,
                "last_seen": max(have.last_seen, alert.last_seen),
                "count": have.count + alert.count,
                "score": max(have.score, alert.score),
                "severity": max(have.severity, alert.severity, key=SEVERITY_RANK.__getitem__),
                "evidence": Evidence(event_ids=ids, sample=sample),
            },
        )
    return list(folded.values())
