"""Error rates beside the counts, and drops of a function's or an account's volume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from detectors.anomaly import AnomalyConfig, volume_drops
from detectors.anomaly.volume import volume_candidates
from models.baselines import volume_baseline, wallet_baseline
from pipelines.features import volume_counts
from tests.factories import ACCOUNT, copies, events

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
PROBER = f"arn:aws:iam::{ACCOUNT}:user/prober"
FN = f"arn:aws:lambda:eu-central-1:{ACCOUNT}:function:catalog-api"


def _calls(day: int, hour: int, count: int, failed: int = 0, **fields: object) -> list[dict]:
    start = MONDAY + timedelta(days=day, hours=hour)
    spread = np.linspace(0, 3590, count)
    return copies(
        count,
        lambda i: {
            "time": start + timedelta(seconds=int(spread[i])),
            "outcome": "failure" if i < failed else "success",
            "error_code": "AccessDenied" if i < failed else None,
        },
        **fields,
    )


def test_a_principals_error_rate_far_above_its_own_is_a_volume_alert() -> None:
    # eight days of 30 calls an hour with one failure; then an hour where 30 of 40 fail
    past = [r for d in range(8) for r in _calls(d, 10, 30, failed=1, principal=PROBER)]
    baseline = volume_baseline(
        volume_counts(events(*past)), start=MONDAY, end=MONDAY + timedelta(days=8)
    )
    today = volume_counts(events(*_calls(8, 10, 40, failed=30, principal=PROBER)))
    found = volume_candidates(today, baseline, AnomalyConfig())
    rates = found[found["measure"] == "error_rate"]
    assert ("principal", PROBER) in set(zip(rates["kind"], rates["key"], strict=True))
    row = rates[rates["kind"] == "principal"].iloc[0]
    assert row["observed"] == 0.75
    deviation = row["explanation"][0]
    assert deviation.feature == "error rate per window"
    assert deviation.baseline.startswith("0.033 of calls failed")
    assert deviation.detail.startswith("30 of 40 calls failed")
    # the same calls with the usual share of failures: no error-rate alert
    usual = volume_counts(events(*_calls(8, 10, 40, failed=1, principal=PROBER)))
    assert volume_candidates(usual, baseline, AnomalyConfig()).empty


def _invoked(days: range, count: int, resource: str = FN) -> pd.DataFrame:
    rows = [
        r
        for d in days
        for h in range(8, 18)
        for r in _calls(d, h, count, action="Invoke", category="invocation", resource=resource)
    ]
    return volume_counts(events(*rows))


def test_a_function_that_stops_being_invoked_is_a_drop_and_so_is_its_account() -> None:
    baseline = wallet_baseline(_invoked(range(5), 30), start=MONDAY, end=MONDAY + timedelta(days=5))
    day = (MONDAY + timedelta(days=5), MONDAY + timedelta(days=6))
    other = _invoked(range(5, 6), 1, resource="other-fn")
    found = volume_drops(other, baseline, *day)
    assert sorted(zip(found["kind"], found["key"], strict=True)) == [
        ("events", "*"),
        ("function", "catalog-api"),
    ]
    row = found[found["kind"] == "function"].iloc[0]
    assert (row["observed"], row["expected"], row["hours"]) == (0.0, 300.0, 24)
    assert "expected 300 in these 24 hours of the week" in row["explanation"][0].baseline


def test_a_half_quiet_day_or_a_small_series_is_no_drop() -> None:
    baseline = wallet_baseline(_invoked(range(5), 30), start=MONDAY, end=MONDAY + timedelta(days=5))
    day = (MONDAY + timedelta(days=5), MONDAY + timedelta(days=6))
    assert volume_drops(_invoked(range(5, 6), 15), baseline, *day).empty
    small = wallet_baseline(_invoked(range(5), 2), start=MONDAY, end=MONDAY + timedelta(days=5))
    assert volume_drops(_invoked(range(5, 6), 1, resource="x"), small, *day).empty
