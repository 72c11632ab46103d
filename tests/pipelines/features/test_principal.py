import itertools
from datetime import timedelta

import pandas as pd

from pipelines.features import PrincipalHistory, principal_features
from tests.factories import BASE_TIME, event, events


def _row(frame, principal="arn:aws:iam::210987654321:user/sam"):
    return frame[frame["principal"] == principal].iloc[0]


def test_new_ip_counts_once_in_its_first_window():
    batch = events(
        event(time=BASE_TIME, source_ip="203.0.113.9"),
        event(time=BASE_TIME + timedelta(hours=1), source_ip="203.0.113.9"),
    )
    features = principal_features(batch, PrincipalHistory.empty())
    assert features["new_source_ips"].tolist() == [1.0, 0.0]


def test_values_in_history_are_not_new():
    past = events(event(time=BASE_TIME - timedelta(days=1)))
    batch = events(event(), event(region="us-east-1"))
    row = _row(principal_features(batch, PrincipalHistory.from_events(past)))
    assert row["new_source_ips"] == 0
    assert row["new_actions"] == 0
    assert row["new_regions"] == 1


def test_shares_and_counts_per_window():
    batch = events(
        event(outcome="failure", error_code="AccessDenied"),
        event(read_only=False, action="UpdateFunctionCode", category="modification"),
        event(action="GetSecretValue", service="secretsmanager.amazonaws.com"),
        event(),
    )
    row = _row(principal_features(batch))
    assert row["event_count"] == 4
    assert row["error_share"] == 0.25
    assert row["write_share"] == 0.25
    assert row["function_modifications"] == 1
    assert row["secret_reads"] == 1
    assert row["distinct_services"] == 2
    assert row["distinct_actions"] == 3


def test_days_since_last_seen_comes_from_history():
    past = events(event(time=BASE_TIME - timedelta(days=10)))
    row = _row(
        principal_features(events(event(time=BASE_TIME)), PrincipalHistory.from_events(past))
    )
    assert 9.9 < row["days_since_last_seen"] < 10.1
    assert row["history_days"] == 1


def test_off_hours_share_counts_hours_the_principal_never_used():
    past = events(
        *[
            event(time=BASE_TIME - timedelta(days=d, minutes=m))
            for d in range(1, 4)
            for m in range(20)
        ]
    )
    night = BASE_TIME.replace(hour=3)
    batch = events(event(time=night), event(time=BASE_TIME))
    features = principal_features(batch, PrincipalHistory.from_events(past))
    assert features["off_hours_share"].tolist() == [1.0, 0.0]


def test_principals_are_separate_rows():
    batch = events(event(), event(principal="kim@example.org", provider="gcp", account="demo"))
    assert len(principal_features(batch)) == 2


def test_pieces_of_a_cut_window_combine_to_the_features_of_one_batch():
    from pandas.testing import assert_frame_equal

    from pipelines.features import EarlierWindows
    from pipelines.features.principal import (
        combine_aggregates,
        finish_features,
        window_aggregates,
    )

    start = BASE_TIME.replace(minute=0, second=0)
    batch = events(
        event(time=start - timedelta(hours=2), source_ip="198.51.100.1"),
        *(
            event(
                time=start + timedelta(minutes=5 * i),
                source_ip=f"203.0.113.{i % 3}",
                region="eu-west-1" if i > 7 else "us-east-1",
                outcome="failure" if i % 4 == 0 else "success",
                read_only=i % 2 == 0,
            )
            for i in range(12)
        ),
        event(time=start + timedelta(hours=1), source_ip="203.0.113.1"),
    )
    past = PrincipalHistory.from_events(
        events(event(time=start - timedelta(days=3), source_ip="203.0.113.0"))
    )
    whole = principal_features(batch, past)

    cuts = [start + timedelta(minutes=m) for m in (20, 45)]
    bounds = [start - timedelta(hours=3), *cuts, start + timedelta(hours=2)]
    earlier, pieces = EarlierWindows.empty(), []
    for low, high in itertools.pairwise(bounds):
        piece = batch[(batch["time"] >= low) & (batch["time"] < high)]
        pieces.append(window_aggregates(piece, past, earlier=earlier, cut={pd.Timestamp(start)}))
        earlier = earlier.then(piece, "hour")
    rows = pd.concat(pieces, ignore_index=True)
    cut = rows["window"] == start
    combined = pd.concat(
        [finish_features(rows[~cut]), finish_features(combine_aggregates(rows[cut]))]
    ).sort_values("window", ignore_index=True)
    assert combined.loc[1, "distinct_source_ips"] == 3  # values in several pieces count once
    assert_frame_equal(combined, whole)
