"""A real ``functrail watch`` process for tests, its stderr read as it runs, and the files and
records dropped into its folder."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select

from pipelines.settings import Settings
from service.alerts.models import AlertRow
from service.db import open_database
from service.webhooks.models import Delivery
from tests.factories import cloudtrail_file, cloudtrail_record

T = TypeVar("T")


class WatchProcess:
    """``functrail watch`` in a subprocess; ``lines`` is its stderr so far."""

    def __init__(self, settings: Settings, *args: str, env: dict[str, str] | None = None) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("FUNCTRAIL_")}
        environ.update(
            FUNCTRAIL_HOME=str(settings.home),
            FUNCTRAIL_WEBHOOK_ALLOW_PRIVATE="1",
            PYTHONUNBUFFERED="1",
            **(env or {}),
        )
        command = [sys.executable, "-c", "from service.cli import main; main()", "watch", *args]
        self.process = subprocess.Popen(
            command, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def batches(self) -> list[str]:
        return [line for line in self.lines if line.startswith("watch batch")]

    def wait_line(self, text: str, timeout: float = 60.0) -> str:
        return wait_for(
            lambda: next((line for line in self.lines if text in line), None),
            timeout,
            f"no line with {text!r} in {self.lines}",
        )

    def kill(self, signum: int) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(60)
        self._reader.join(10)
        return code


def wait_for(probe: Callable[[], T | None], timeout: float, why: str = "") -> T:
    """``probe()`` once it is truthy, polling; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(why or f"nothing after {timeout} s")
        time.sleep(0.1)


def drop(folder: Path, name: str, *records: dict[str, Any]) -> Path:
    """A CloudTrail log file put into ``folder`` whole (written under a dot-name, renamed)."""
    folder.mkdir(parents=True, exist_ok=True)
    hidden = folder / f".{name}.part"
    hidden.write_bytes(cloudtrail_file(*records))
    target = folder / name
    os.replace(hidden, target)
    return target


def stop_logging(at: datetime, trail: str = "org-trail") -> dict[str, Any]:
    return cloudtrail_record(
        eventSource="cloudtrail.amazonaws.com",
        eventName="StopLogging",
        readOnly=False,
        requestParameters={"name": trail},
        eventTime=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def secret_reads(start: datetime, first: int, count: int, who: str = "mallory") -> list[dict]:
    """``count`` reads of distinct secrets by one IAM user, 20 s apart from ``start``."""
    identity = {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": f"arn:aws:iam::210987654321:user/{who}",
        "accountId": "210987654321",
        "accessKeyId": "AKIAEXAMPLE",
        "userName": who,
    }
    return [
        cloudtrail_record(
            userIdentity=identity,
            eventSource="secretsmanager.amazonaws.com",
            eventName="GetSecretValue",
            requestParameters={"secretId": f"prod/secret-{n:02d}"},
            eventTime=(start + timedelta(seconds=20 * n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        for n in range(first, first + count)
    ]


def stored_alerts(settings: Settings) -> dict[str, tuple[str, int]]:
    """id -> (rule id, count) of every stored alert."""
    db = open_database(settings)
    try:
        with db.session() as session:
            return {r.id: (r.rule_id, r.count) for r in session.scalars(select(AlertRow))}
    finally:
        db.dispose()


def deliveries(settings: Settings) -> list[tuple[str, str, str]]:
    """(alert id, event, change key) of every queued delivery, sorted."""
    db = open_database(settings)
    try:
        with db.session() as session:
            rows = session.scalars(select(Delivery))
            return sorted((d.alert_id, d.event, d.change_key) for d in rows)
    finally:
        db.dispose()
