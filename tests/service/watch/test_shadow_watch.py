"""The watcher keeps the daily job's shadow modes: a shadow rule's hit is stored marked shadow
and queues no delivery (one detection path, two clocks)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipelines.settings import Settings
from service.alerts.models import AlertRow
from service.db import Database
from service.rules.store import set_rule
from service.watch.loop import Watcher
from service.webhooks.models import Delivery
from tests.factories import BASE_TIME
from tests.service.watch.helpers import drop, stop_logging

RULE = "aws_cloudtrail_stop_logging"


pytestmark = pytest.mark.usefixtures("webhook_subscription")


@pytest.mark.parametrize("mode", ["shadow", "live"])
def test_a_watched_hit_of_a_shadow_rule_is_stored_marked_and_not_delivered(
    settings: Settings, db: Database, tmp_path: Path, mode: str
) -> None:
    with db.session() as session:
        set_rule(session, RULE, actor="admin", mode=mode)  # type: ignore[arg-type]
    folder = tmp_path / "in"
    folder.mkdir()
    drop(folder, "stop.json", stop_logging(BASE_TIME + timedelta(minutes=1)))
    Watcher(settings, db, [str(folder)], interval=1, pushes=False).step()
    with db.session() as session:
        rows = [(r.rule_id, r.shadow) for r in session.scalars(select(AlertRow))]
        queued = session.scalar(select(func.count()).select_from(Delivery))
    assert (RULE, mode == "shadow") in rows
    assert queued == sum(not shadow for _, shadow in rows)
