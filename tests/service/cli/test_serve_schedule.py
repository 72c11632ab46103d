"""``functrail serve`` with FUNCTRAIL_SCORE_SCHEDULE starts the daily score job in its own
process (once, whatever the number of API workers) and still stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from pipelines.settings import Settings
from tests.ports import free_port


@pytest.mark.integration
def test_serve_announces_the_schedule_and_stops_cleanly(settings: Settings) -> None:
    port = free_port()
    env = {**os.environ, "FUNCTRAIL_SCORE_SCHEDULE": "02:30"}
    command = [sys.executable, "-c", "from service.cli import main; main()"]
    proc = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(120):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, log = proc.communicate(timeout=30)
    assert b"score job scheduled daily at 02:30 UTC" in log
    assert proc.returncode in (0, -signal.SIGTERM)
    assert b"Traceback" not in log


def test_a_schedule_that_is_not_hh_mm_is_refused() -> None:
    with pytest.raises(ValueError, match="score_schedule"):
        Settings(score_schedule="2:30am")
