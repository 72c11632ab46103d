"""Traffic for coverage tests: steady hourly events of an account, ending when told."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from pipelines.lake import EventLake
from tests.factories import event, events, log_entry

AT = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
"""When the tests assess coverage: two weeks and a half day after traffic begins."""
BEGIN = AT - timedelta(days=15)


_steady_ids = itertools.count(1)


def steady(start: datetime, end: datetime, per_hour: int, **fields: Any) -> list[dict[str, Any]]:
    """``per_hour`` events an hour from ``start`` until ``end``, from one factory call: each
    ``event()`` moves the session's shared event clock a second, and thousands of them carried
    other tests' events past midnight."""
    template = event(time=start, **fields)
    step = timedelta(seconds=3600 / per_hour)
    out, moment = [], start
    while moment < end:
        out.append({**template, "id": f"cov-{next(_steady_ids):08d}", "time": moment})
        moment += step
    return out


def gcp_fields(log: str, project: str = "shop-prod", **fields: Any) -> dict[str, Any]:
    """Fields of a Google Cloud event from the log ``log`` (``data_access``, ``activity``...)."""
    entry = log_entry(logName=f"projects/{project}/logs/cloudaudit.googleapis.com%2F{log}")
    return {
        "provider": "gcp",
        "account": project,
        "principal": "kim@example.org",
        "principal_type": "user",
        "raw": orjson.dumps({**entry, **fields.pop("raw", {})}).decode(),
        **fields,
    }


def lambda_invokes() -> dict[str, Any]:
    return {"service": "lambda.amazonaws.com", "action": "Invoke", "raw_action": "Invoke"}


@pytest.fixture
def lake(tmp_path) -> EventLake:
    return EventLake(str(tmp_path / "lake"))


def store(lake: EventLake, rows: list[dict[str, Any]]) -> None:
    lake.append(events(*rows))
