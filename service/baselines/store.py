"""Plain functions over the registry's adjustments, for the API, the CLI and the triage hook.

The adjustments are a file beside the models (``models.verdicts.Adjustments``), not a table:
detection workers read them as they read the model, with no database session.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from detectors.alert import Alert
from detectors.anomaly.config import AnomalyConfig
from models.verdicts import (
    Adjustment,
    Adjustments,
    Excluded,
    adjust_history,
    adjustment_from_alert,
    principal_notes,
    series_floors,
)
from pipelines.features import PrincipalHistory
from pipelines.settings import Settings
from service.alerts.models import AlertRow


def list_adjustments(settings: Settings) -> list[Adjustment]:
    """Every widening in force, oldest first."""
    return Adjustments(settings.models_dir).items()


def remove_adjustment(settings: Settings, adjustment_id: str) -> bool:
    """Undo one widening; False when there is no such id."""
    return Adjustments(settings.models_dir).remove(adjustment_id)


def learn_from_verdict(
    settings: Settings, alert: Alert, disposition: str | None, actor: str | None
) -> Adjustment | None:
    """After triage: a false positive on a first-seen, volume or denial-of-wallet alert widens
    its entity's baseline; a true positive on a first-seen alert keeps its values unknown to
    the principal (an attack's address or tool is never learned, so its return alerts again).
    Once per alert: another verdict (or reopening) undoes what the earlier one made. Returns
    the adjustment in force for the alert, if any."""
    store = Adjustments(settings.models_dir)
    made = [a for a in store.items() if a.alert_id == alert.id]
    verdict = disposition in ("false_positive", "true_positive")
    confirmed = disposition == "true_positive"
    if made and verdict and made[0].unlearned == confirmed:
        return made[0]
    for old in made:
        store.remove(old.id)
    if not verdict:
        return None
    stored = alert.model_dump(mode="json")
    adjustment = adjustment_from_alert(stored, actor, datetime.now(UTC), confirmed=confirmed)
    return store.add(adjustment) if adjustment is not None else None


def anomaly_config(settings: Settings) -> AnomalyConfig:
    """The anomaly detectors' knobs from the settings, with the verdicts' widenings in force."""
    adjustments = list_adjustments(settings)
    return AnomalyConfig(
        dormant_days=settings.anomaly_dormant_days,
        series_floors=series_floors(adjustments),
        principal_notes=principal_notes(adjustments),
    )


def adjusted_history(settings: Settings, history: PrincipalHistory) -> PrincipalHistory:
    """``history`` with the values false-positive verdicts made known to their principals and
    true-positive verdicts kept unknown to them."""
    return adjust_history(history, list_adjustments(settings))


def training_exclusions(session: Session, first: date, last: date) -> list[Excluded]:
    """Windows of the alerts resolved as true positives that overlap ``first .. last``."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    rows = session.scalars(
        select(AlertRow).where(
            AlertRow.disposition == "true_positive",
            AlertRow.last_seen >= start,
            AlertRow.first_seen < end,
        )
    )
    return [
        Excluded(
            row.provider, row.account, row.principal, row.resource, row.first_seen, row.last_seen
        )
        for row in rows
    ]
