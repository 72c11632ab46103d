"""Denial of wallet: invocations against the function's own hour-of-week baseline, priced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from detectors.anomaly import AnomalyConfig
from detectors.anomaly.wallet import wallet_candidates
from models.baselines import wallet_baseline
from pipelines.features import volume_counts
from pipelines.features.functions import config_changes, no_changes
from tests.factories import ACCOUNT, copies, event, events

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
FN_ARN = f"arn:aws:lambda:eu-central-1:{ACCOUNT}:function:catalog-api"


def _invocations(day: int, hour: int, count: int, resource: str = FN_ARN) -> list[dict]:
    start = MONDAY + timedelta(days=day, hours=hour)
    spread = np.linspace(0, 3590, count)
    return copies(
        count,
        lambda i: {"time": start + timedelta(seconds=int(spread[i]))},
        action="Invoke",
        category="invocation",
        resource=resource,
        principal="apigateway.amazonaws.com",
        read_only=False,
    )


def _baseline(days: int = 5, per_hour: int = 20) -> pd.DataFrame:
    rows = [r for d in range(days) for h in (10, 11, 12) for r in _invocations(d, h, per_hour)]
    counts = volume_counts(events(*rows))
    return wallet_baseline(counts, start=MONDAY, end=MONDAY + timedelta(days=days))


def _config(**response: object) -> dict:
    return event(
        time=MONDAY + timedelta(days=5, hours=9),
        action="UpdateFunctionConfiguration",
        category="modification",
        resource="catalog-api",
        principal=f"arn:aws:iam::{ACCOUNT}:user/alice",
        read_only=False,
        raw={"requestParameters": {"functionName": "catalog-api"}, "responseElements": response},
    )


def _flood(changes: pd.DataFrame | None = None, count: int = 1200) -> pd.DataFrame:
    counts = volume_counts(events(*_invocations(5, 11, count)))
    return wallet_candidates(
        counts, _baseline(), changes if changes is not None else no_changes(), AnomalyConfig()
    )


def test_a_flood_far_above_the_functions_hour_is_one_alert_for_the_function() -> None:
    found = _flood()
    assert list(found["kind"]) == ["function"]  # the account's total is explained by it
    assert list(found["key"]) == ["catalog-api"]
    assert found["members"].iloc[0] == [FN_ARN]
    first = found["explanation"].iloc[0][0]
    assert first.observed == 1200.0
    assert first.baseline.startswith(
        "usual 20 at this hour of day, highest 20 at this hour over 5 days"
    )


def test_ordinary_hours_and_small_bursts_stay_quiet() -> None:
    assert _flood(count=25).empty
    assert _flood(count=99).empty  # 5x the usual but under the absolute floor


def test_cost_at_risk_uses_the_last_configuration_and_names_the_bill_raising_change() -> None:
    changes = config_changes(events(_config(timeout=900, memorySize=10240)))
    found = _flood(changes)
    cost = found["explanation"].iloc[0][1]
    # 1180 extra calls x 900 s x 10 GB = 10,620,000 GB-s at $0.0000166667
    assert cost.observed.startswith("$177.00 this hour (10,620,000 GB-s for 1,180 extra calls)")
    assert "timeout 900 s, memory 10240 MB (UpdateFunctionConfiguration by alice" in cost.baseline
    assert "estimate at list price" in str(cost.detail)
    raised = found["explanation"].iloc[0][2]
    assert raised.feature == "preceded by bill-raising changes"
    assert "timeout 900 s by alice" in str(raised.observed)
    assert "memory 10240 MB by alice" in str(raised.observed)
    assert found["score"].iloc[0] > _flood()["score"].iloc[0]


def test_without_a_configuration_event_the_cost_uses_the_providers_defaults() -> None:
    cost = _flood()["explanation"].iloc[0][1]
    assert cost.baseline == "timeout 3 s, memory 128 MB (defaults (no configuration event))"
    assert len(_flood()["explanation"].iloc[0]) == 2  # no bill-raising change to name


def test_hour_of_week_baseline_is_used_once_two_weeks_are_known() -> None:
    base = _baseline(days=14)
    monday_11 = base[(base["key"] == "catalog-api") & (base["hour_of_week"] == 11)]
    assert monday_11["how_samples"].iloc[0] == 2
    assert monday_11["how_median"].iloc[0] == 20.0
    assert np.isnan(_baseline(days=5).query("hour_of_week == 11")["how_median"]).all()


def test_a_flood_of_functions_without_a_baseline_is_caught_at_the_account() -> None:
    fresh = f"arn:aws:lambda:eu-central-1:{ACCOUNT}:function:tmp-miner"
    rows = _invocations(5, 11, 20) + _invocations(5, 11, 600, resource=fresh)
    found = wallet_candidates(
        volume_counts(events(*rows)), _baseline(), no_changes(), AnomalyConfig()
    )
    assert list(zip(found["kind"], found["key"], strict=True)) == [("account", "*")]
    assert found["explanation"].iloc[0][0].observed == 620.0
