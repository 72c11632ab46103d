"""End to end over a simulated day: every rule-kind attack is caught, and nothing else alerts at
medium or above (routine admin in the baseline may raise ``low`` context alerts)."""

from __future__ import annotations

import pytest

from detectors.alert import SEVERITY_RANK
from detectors.rules.engine import run_rules
from detectors.rules.loader import load_registry
from pipelines.normalize import concat_batches, normalize_blob
from pipelines.simulate import ATTACKS, simulate
from pipelines.sources.local import iter_local_blobs


@pytest.mark.slow
def test_pack_catches_every_rule_attack_of_a_simulated_day_and_nothing_else_loud(tmp_path):
    result = simulate(tmp_path / "sim", 1, 7, list(ATTACKS))
    blobs = iter_local_blobs([str(tmp_path / "sim")], on_reject=lambda reject: None)
    batch = concat_batches(normalize_blob(blob.data, blob.name) for blob in blobs)
    registry, errors = load_registry()
    assert errors == []
    alerts = run_rules(batch.events, registry)

    alerted = {event_id for alert in alerts for event_id in alert.evidence.event_ids}
    missed = [
        label.scenario
        for label in result.labels
        if label.kind == "rule" and not alerted & set(label.event_ids)
    ]
    assert missed == []
    labelled = {event_id for label in result.labels for event_id in label.event_ids}
    stray = [
        f"{a.severity} {a.rule_id}"
        for a in alerts
        if not set(a.evidence.event_ids) & labelled
        and SEVERITY_RANK[a.severity] >= SEVERITY_RANK["medium"]
    ]
    assert stray == []
