from datetime import timedelta

import pandas as pd

from models.bundle import TrainConfig
from models.train import train
from pipelines.features import window_start
from tests.factories import event, events, routine_activity


def _with_request_logs(day: pd.DataFrame) -> pd.DataFrame:
    """The day plus Cloud Run style requests: invocations of one function with no caller."""
    start = day["time"].min().floor("D") + timedelta(hours=9)
    requests = events(
        *[
            event(
                time=start + timedelta(minutes=i),
                principal=None,
                principal_type=None,
                action="Invoke",
                category="invocation",
                resource="checkout",
                source_ip=f"198.18.0.{i % 200}",
            )
            for i in range(60)
        ]
    )
    return pd.concat([day, requests], ignore_index=True)


def test_calls_without_a_caller_train_volume_but_no_principal_history():
    activity = routine_activity(8, principals=3, per_hour=4)  # volume needs 7 days
    days = [
        _with_request_logs(g) for _, g in activity.groupby(window_start(activity["time"], "day"))
    ]

    model = train(days, TrainConfig(trees=20, min_history_days=2))

    principals = model.history.principals["principal"]
    assert principals.notna().all()
    assert "" not in set(principals)
    assert "checkout" in set(model.volume["key"])
