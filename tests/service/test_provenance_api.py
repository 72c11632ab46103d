"""Review finding H1 end to end: an ingest key cannot hide a real record, and stays in scope.

Before: a harmless record pushed with the id of the real ``AddPermission`` (principal ``*``)
made the daily ingest drop the real one as a duplicate: never detected. Ingest keys could push
for any account, and records dated year 1 or 9999 were taken.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from pipelines.lake import EventLake
from service.cli.app import app
from service.db import Database
from service.scoring.job import score_day
from tests.factories import cloudtrail_file, cloudtrail_record, log_entry, public_add_permission
from tests.service.api.conftest import Api, assert_problem, make_api
from tests.service.scoring.conftest import DAY


def _push(api: Api, headers: dict[str, str], *records: dict) -> dict:
    """Push and let the writer store what was queued (its next tick, without the wait)."""
    response = api.client.post("/v1/events", content=cloudtrail_file(*records), headers=headers)
    assert response.status_code == 200, response.text
    api.drain()
    return dict(response.json())


def test_a_push_with_a_real_event_id_does_not_hide_it_from_the_daily_job(
    fresh_database: tuple[Database, Path], tmp_path: Path
) -> None:
    api = make_api(fresh_database)
    real = public_add_permission()
    decoy = {**real, "requestParameters": {"functionName": "billing", "principal": "123456789012"}}
    (tmp_path / "trail.json").write_bytes(cloudtrail_file(real))
    with api.client:
        ingest = api.headers("ingest")
        assert _push(api, ingest, decoy)["accepted"] == 1  # before the daily ingest
        result = score_day(DAY, [str(tmp_path / "trail.json")], api.settings, api.db)
        alerts = api.client.get("/v1/alerts", headers=api.headers("viewer")).json()["items"]
    [stored] = EventLake(api.settings.lake_root).read().to_dict("records")
    assert orjson.loads(stored["raw"])["requestParameters"]["principal"] == "*"
    assert stored["origin"] == str(tmp_path / "trail.json")
    by_rule = {a["rule_id"]: a for a in alerts}
    assert "aws_lambda_public_add_permission" in by_rule  # the real record was detected
    conflict = by_rule["event_id_conflict"]
    assert conflict["severity"] == "high"
    assert conflict["evidence"]["event_ids"] == [real["eventID"]]
    origins = [s["origin"] for s in conflict["evidence"]["sample"]]
    assert origins[0] == str(tmp_path / "trail.json")
    assert origins[1].startswith("push:")
    samples = conflict["evidence"]["sample"]
    principals = [s["raw"]["requestParameters"]["principal"] for s in samples]
    assert principals == ["*", "123456789012"]
    assert result.alerts >= 2


def test_a_pushed_record_reusing_a_stored_id_is_dropped_with_an_alert(api):
    real = cloudtrail_record()
    ingest = api.headers("ingest")
    _push(api, ingest, real)
    again = _push(api, ingest, {**real, "userAgent": "something else"})
    assert (again["accepted"], again["queued"]) == (1, 1)
    assert len(EventLake(api.settings.lake_root).read()) == 1
    alerts = api.client.get("/v1/alerts", headers=api.headers("viewer")).json()["items"]
    assert [a["rule_id"] for a in alerts] == ["event_id_conflict"]


def test_every_pushed_event_keeps_the_pushing_keys_origin(api):
    ingest = api.headers("ingest")
    _push(api, ingest, cloudtrail_record())
    [origin] = EventLake(api.settings.lake_root).read()["origin"].tolist()
    with api.db.session() as session:
        from sqlalchemy import select

        from service.keys.models import ApiKeyRow

        key_id = session.scalar(select(ApiKeyRow.id).where(ApiKeyRow.role == "ingest"))
    assert origin == f"push:{key_id}"


def _scoped_key(api: Api, *scopes: str) -> dict[str, str]:
    from service.keys.store import create_key, server_secret

    with api.db.session() as session:
        created = create_key(
            session,
            name=f"scoped-{len(scopes)}-{scopes[0]}",
            role="ingest",
            secret=server_secret(api.settings.home),
            scopes=scopes,
        )
    return {"Authorization": f"Bearer {created.key}"}


def test_a_scoped_key_pushes_inside_its_scopes(api):
    headers = _scoped_key(api, "aws:210987654321", "gcp")
    body = cloudtrail_file(cloudtrail_record())
    assert api.client.post("/v1/events", content=body, headers=headers).status_code == 200
    gcp = orjson.dumps(log_entry())
    assert api.client.post("/v1/events", content=gcp, headers=headers).status_code == 200


def test_a_push_with_a_record_outside_the_scopes_is_403_and_stores_nothing(api):
    headers = _scoped_key(api, "aws:210987654321")
    inside = cloudtrail_record()
    outside = cloudtrail_record(recipientAccountId="999999999999")
    body = cloudtrail_file(inside, outside)
    problem = assert_problem(api.client.post("/v1/events", content=body, headers=headers), 403)
    assert "'aws:999999999999'" in problem["detail"]
    api.drain()
    assert EventLake(api.settings.lake_root).read().empty


def test_keys_create_takes_scopes_and_refuses_bad_ones(settings):
    runner = CliRunner()
    made = runner.invoke(
        app, ["keys", "create", "--role", "ingest", "--name", "s", "--scope", "aws:123456789012"]
    )
    assert made.exit_code == 0, made.output
    assert "scoped to aws:123456789012" in made.stderr
    for bad in (["--role", "ingest", "--scope", "azure:x"], ["--role", "viewer", "--scope", "aws"]):
        refused = runner.invoke(app, ["keys", "create", "--name", f"b{bad[1]}", *bad])
        assert refused.exit_code == 1


@pytest.mark.parametrize(
    ("shift", "why"),
    [
        (timedelta(days=2), "more than a day in the future"),
        (-timedelta(days=400), "older than the retention window (365 days)"),
    ],
)
def test_a_record_dated_outside_the_window_is_a_reject_with_its_reason(api, shift, why):
    api.state.settings.retention_days = 365
    now = datetime.now(UTC)
    fine = cloudtrail_record(eventTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    off = cloudtrail_record(eventTime=(now + shift).strftime("%Y-%m-%dT%H:%M:%SZ"))
    result = _push(api, api.headers("ingest"), fine, off)
    assert (result["accepted"], result["rejected"]) == (1, 1)
    [reject] = result["rejects"]
    assert why in reject["reason"]
    assert off["eventID"] in reject["reason"]


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_records_dated_year_1_or_9999_are_rejects(api, when):
    result = _push(api, api.headers("ingest"), cloudtrail_record(eventTime=when))
    assert (result["accepted"], result["rejected"]) == (0, 1)
    api.drain()
    assert EventLake(api.settings.lake_root).read().empty
