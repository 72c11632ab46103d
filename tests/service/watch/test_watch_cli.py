"""``functrail watch`` end to end: a file dropped into a watched folder is an alert in the
store and at a webhook receiver within seconds; a correlation spans two files; the daily
``score`` of the day afterwards adds nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.settings import Settings
from service.db import open_database
from service.webhooks import store
from service.webhooks.store import NewSubscription
from tests.factories import BASE_TIME, cloudtrail_record
from tests.service.watch.helpers import (
    WatchProcess,
    deliveries,
    drop,
    secret_reads,
    stop_logging,
    stored_alerts,
    wait_for,
)
from tests.service.webhooks.receivers import Receiver, receiver

pytestmark = pytest.mark.slow

DAY = BASE_TIME.date()
CLI = [sys.executable, "-c", "from service.cli import main; main()"]


@pytest.fixture(scope="module")
def hook() -> Iterator[Receiver]:
    with receiver(secret="") as found:
        yield found


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory, hook: Receiver) -> Iterator[tuple]:
    """A watcher on a folder (interval 1 s) with a webhook subscription to ``hook``; warmed up
    by a first file, so the timed drops measure detection, not start-up."""
    home = tmp_path_factory.mktemp("watch")
    settings = Settings(home=home / "home", webhook_allow_private=True)
    db = open_database(settings)
    with db.session() as session:
        _, secret = store.create_subscription(
            session, settings, NewSubscription(url=hook.url, min_severity="info")
        )
    db.dispose()
    hook.secret = secret or ""
    folder = home / "in"
    folder.mkdir()
    watch = WatchProcess(settings, "--interval", "1", str(folder))
    drop(folder, "warm.json", cloudtrail_record(eventTime="2026-03-02T09:00:00Z"))
    watch.wait_line("watch batch 1:")
    yield settings, folder, watch
    if watch.process.poll() is None:
        watch.kill(signal.SIGKILL)


def test_a_stop_logging_file_is_an_alert_and_a_webhook_within_15_seconds(watched, hook):
    settings, folder, _watch = watched
    landed = time.monotonic()
    drop(folder, "stop.json", stop_logging(BASE_TIME + timedelta(minutes=1)))

    def stored() -> list[str]:
        alerts = stored_alerts(settings)
        return [i for i, (rule, _) in alerts.items() if rule == "aws_cloudtrail_stop_logging"]

    ids = wait_for(stored, 15, "no StopLogging alert in the store")
    in_store = time.monotonic() - landed
    call = wait_for(
        lambda: next((c for c in hook.delivered() if c.body["alert"]["id"] == ids[0]), None),
        15 - in_store,
        "no webhook delivery",
    )
    assert time.monotonic() - landed < 15
    assert call.verified
    assert call.event == "alert.created"
    assert call.body["alert"]["rule_id"] == "aws_cloudtrail_stop_logging"


def test_a_bulk_secret_read_split_over_two_files_is_caught_by_its_correlation(watched):
    settings, folder, watch = watched
    reads = secret_reads(BASE_TIME + timedelta(minutes=20), 0, 12)
    seen = len(watch.batches())
    drop(folder, "reads-1.json", *reads[:6])
    # its own micro-batch: nothing fires with 6 of the 10 reads needed
    wait_for(lambda: len(watch.batches()) > seen, 15, "the first file was not taken")
    assert not [a for a in stored_alerts(settings).values() if a[0] == "aws_secrets_bulk_read"]
    drop(folder, "reads-2.json", *reads[6:])
    found = wait_for(
        lambda: [a for a in stored_alerts(settings).values() if a[0] == "aws_secrets_bulk_read"],
        15,
        "the correlation did not fire across the two files",
    )
    assert found == [("aws_secrets_bulk_read", 12)]


def test_the_daily_score_of_a_watched_day_afterwards_adds_no_alert(watched):
    settings, folder, watch = watched
    assert watch.kill(signal.SIGTERM) == 0
    assert "watch stopped" in watch.lines[-1]
    before = (stored_alerts(settings), deliveries(settings))
    assert before[0]
    score = subprocess.run(
        [*CLI, "score", "--date", DAY.isoformat(), str(folder)],
        env=_env(settings),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert score.returncode == 0, score.stderr.decode()
    assert (stored_alerts(settings), deliveries(settings)) == before


def _env(settings: Settings) -> dict[str, str]:
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith("FUNCTRAIL_")}
    environ["FUNCTRAIL_HOME"] = str(Path(settings.home))
    return environ
