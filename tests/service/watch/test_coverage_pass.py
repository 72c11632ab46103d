"""The watcher's coverage pass: a silent account is alerted on the first batch (not at the next
daily run), once an hour at most, and each input's polls are recorded for coverage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from pipelines.lake import EventLake
from pipelines.settings import Settings
from pipelines.source_health import source_health
from pipelines.sources import BlobRef
from service.alerts.models import AlertRow
from service.db import Database
from service.watch.batch import BatchRunner
from service.watch.inputs import Budget, open_input
from tests.detectors.coverage.conftest import steady
from tests.factories import ACCOUNT, events

HOUR = timedelta(hours=1)


def coverage_alerts(db: Database) -> list[tuple[str, str | None]]:
    with db.session() as session:
        rows = session.scalars(select(AlertRow).where(AlertRow.detector == "coverage"))
        return [(row.rule_id, row.account) for row in rows]


def test_a_silent_account_is_alerted_by_the_first_batch_then_not_again_within_the_hour(
    settings: Settings, db: Database
) -> None:
    now = datetime.now(UTC)
    EventLake(settings.lake_root).append(
        events(*steady(now - timedelta(days=15), now - 10 * HOUR, 4))
    )
    runner = BatchRunner(settings, db, [], None)
    first = runner.run()
    assert coverage_alerts(db) == [("coverage_silent", ACCOUNT)]
    assert first.alerts == {"new": 1}
    second = runner.run()
    assert second.alerts == {}  # no pass within the hour
    runner.coverage_every = 0
    assert runner.run().alerts == {"unchanged": 1}  # found again: the same alert


class Flaky:
    """An input (the ``WatchInput`` protocol) whose polls fail while ``down``."""

    uri = "sqs://queue-without-permission"

    def __init__(self) -> None:
        self.down = True

    def poll(self, budget: Budget) -> list[tuple[BlobRef, float]]:
        if self.down:
            raise PermissionError("AccessDenied: sqs:ReceiveMessage")
        return []

    def done(self, refs: list[BlobRef]) -> None:
        pass


def test_each_inputs_failures_are_recorded_for_coverage(settings: Settings, db: Database) -> None:
    flaky = Flaky()
    local = open_input(str(settings.home / "logs"), settings)
    runner = BatchRunner(settings, db, [flaky, local], None)
    runner.run()
    runner.run()
    health = {h.uri: h for h in source_health(settings)}
    assert health[flaky.uri].failures == 2
    assert health[flaky.uri].last_error == "PermissionError: AccessDenied: sqs:ReceiveMessage"
    assert health[local.uri].failures == 0
    flaky.down = False
    runner.run()
    assert {h.uri: h.failures for h in source_health(settings)}[flaky.uri] == 0
