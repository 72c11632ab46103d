"""The forest's explanation: the features furthest above the training population's p95."""

from __future__ import annotations

import pandas as pd

from detectors.anomaly.forest import TOP_DEVIATIONS, explain

STATS = pd.DataFrame(
    {
        "p50": [10.0, 0.0, 1.0, 0.0, 2.0, 0.0],
        "p95": [40.0, 1.0, 3.0, 0.0, 5.0, 0.1],
        "mean": [15.0, 0.2, 1.4, 0.0, 2.5, 0.02],
        "std": [12.0, 0.5, 1.0, 0.0, 1.5, 0.05],
    },
    index=[
        "event_count", "secret_reads", "distinct_services", "new_regions",
        "distinct_actions", "error_share",
    ],
)  # fmt: skip


def _row(**values: float) -> pd.Series:
    base = dict.fromkeys(STATS.index, 0.0) | {"event_count": 12.0, "distinct_actions": 2.0}
    return pd.Series(base | values | {"principal": "arn:aws:iam::1:user/x"})


def test_top_deviations_are_the_features_furthest_above_p95_largest_first() -> None:
    # secret_reads 40 vs p95 1 (spread max(p95-p50, std)=1): z=39; new_regions 2 vs p95 0
    # (spread floored at 1e-3): z=2000; event_count 100 vs p95 40 (spread 30): z=2
    found = explain(_row(secret_reads=40, new_regions=2, event_count=100), STATS)
    assert [d.feature for d in found] == ["new_regions", "secret_reads", "event_count"]
    assert found[1].observed == 40.0
    assert found[1].baseline == "p95=1"
    assert found[1].detail == "median 0 over training windows"


def test_features_at_or_below_p95_are_left_out_when_some_are_above() -> None:
    found = explain(_row(distinct_services=4), STATS)
    assert [d.feature for d in found] == ["distinct_services"]


def test_a_row_rare_only_for_its_combination_shows_its_largest_z_scores() -> None:
    found = explain(_row(), STATS)
    assert len(found) == TOP_DEVIATIONS
    assert all(float(d.observed) <= float(d.baseline[4:]) for d in found)


def test_columns_the_stats_lack_are_ignored() -> None:
    found = explain(_row(secret_reads=9, not_a_feature=1e9), STATS)
    assert [d.feature for d in found] == ["secret_reads"]
