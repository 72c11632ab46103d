"""The daily job with a rule in shadow mode: it still runs and stores, but pages no one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipelines.settings import Settings
from service.alerts.models import AlertRow
from service.db import Database
from service.rules.store import set_rule
from service.scoring.job import score_day
from service.webhooks.models import Delivery
from tests.factories import cloudtrail_file, public_add_permission
from tests.service.scoring.conftest import DAY

RULE = "aws_lambda_public_add_permission"


pytestmark = pytest.mark.usefixtures("webhook_subscription")


def _score(settings: Settings, db: Database, folder: Path) -> tuple[list[tuple[str, bool]], int]:
    folder.mkdir()
    (folder / "trail.json").write_bytes(
        cloudtrail_file(public_add_permission(eventTime=f"{DAY}T10:00:00Z"))
    )
    result = score_day(DAY, [str(folder)], settings, db)
    with db.session() as session:
        rows = [(r.rule_id, r.shadow) for r in session.scalars(select(AlertRow))]
        deliveries = session.scalar(select(func.count()).select_from(Delivery)) or 0
    assert result.deliveries == deliveries
    return rows, deliveries


def test_a_shadow_rule_s_hit_is_stored_marked_and_queues_no_delivery(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with db.session() as session:
        set_rule(session, RULE, actor="admin", mode="shadow")
    rows, deliveries = _score(settings, db, tmp_path / "in")
    assert (RULE, True) in rows
    assert deliveries == sum(not shadow for _, shadow in rows)


def test_the_same_hit_of_a_live_rule_is_delivered(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    rows, deliveries = _score(settings, db, tmp_path / "in")
    assert (RULE, False) in rows
    assert deliveries == len(rows)
