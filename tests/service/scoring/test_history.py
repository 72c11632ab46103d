"""The daily job moves the principals' history on: what was new yesterday is known today."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from models.bundle import TrainConfig
from models.day_summaries import DaySummaries
from models.registry import ModelRegistry
from models.train import train
from pipelines.features import window_start
from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.alerts.models import AlertRow
from service.alerts.store import to_alert
from service.baselines.store import learn_from_verdict
from service.db import Database
from service.scoring.job import score_day
from tests.factories import ACCOUNT, routine_activity

TRAIN_DAYS = 10
DEV1 = f"arn:aws:iam::{ACCOUNT}:user/dev1"
NEW_PLACE = {"source_ip": "203.0.113.66", "region": "ap-southeast-2", "user_agent": "curl/8.5"}


def _first_seen_for_dev1(db: Database, day: pd.Timestamp) -> list[str]:
    with db.session() as session:
        rows = session.scalars(
            select(AlertRow).where(AlertRow.detector == "anomaly", AlertRow.rule_id == "first-seen")
        )
        return [r.title for r in rows if r.principal == DEV1 and r.first_seen.date() == day.date()]


def _dev1_moves_after_training(settings: Settings) -> list[pd.Timestamp]:
    """A model trained on routine days, then two days in the lake on which dev1 works from a
    new address, region and agent; the two days, to be scored."""
    activity = routine_activity(TRAIN_DAYS + 2, principals=4, per_hour=6)
    days = [g for _, g in activity.groupby(window_start(activity["time"], "day"))]
    ModelRegistry(settings.models_dir).register(
        train(days[:TRAIN_DAYS], TrainConfig(trees=30, min_history_days=2))
    )
    lake = EventLake(settings.lake_root)
    scored = []
    for day in days[TRAIN_DAYS:]:
        moved = day["principal"] == DEV1
        day = day.copy()
        for column, value in NEW_PLACE.items():
            day.loc[moved, column] = value
        lake.append(day)
        scored.append(day["time"].min().floor("D"))
    return scored


def test_an_address_new_yesterday_is_not_first_seen_again_today(
    settings: Settings, db: Database
) -> None:
    scored = _dev1_moves_after_training(settings)

    for day in scored:
        score_day(day.date(), [], settings, db)

    assert _first_seen_for_dev1(db, scored[0])  # new on the first day after training
    assert _first_seen_for_dev1(db, scored[1]) == []  # known from the first day's summary
    assert DaySummaries(settings.models_dir).days() == [d.date() for d in scored]


def test_an_address_of_a_confirmed_attack_stays_new_after_the_day_that_learned_it(
    settings: Settings, db: Database
) -> None:
    """The same move as above, but the analyst calls the first alert a true positive: the
    address, region and agent are never learned, so the next day's use of them alerts again."""
    scored = _dev1_moves_after_training(settings)

    score_day(scored[0].date(), [], settings, db)
    with db.session() as session:
        first = [
            to_alert(r)
            for r in session.scalars(select(AlertRow).where(AlertRow.rule_id == "first-seen"))
            if r.principal == DEV1
        ]
    assert first
    for found in first:
        learn_from_verdict(settings, found, "true_positive", "ana")
    score_day(scored[1].date(), [], settings, db)

    assert _first_seen_for_dev1(db, scored[1])  # the attacker's place is still new
