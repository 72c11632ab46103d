from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.lake import EventLake
from service.cli.app import CommandFailed, app
from tests.factories import cloudtrail_file, cloudtrail_record, json_lines, log_entry
from tests.fakes.cloudtrail_server import CloudTrailServer


def run(*args: str):
    return CliRunner().invoke(app, ["ingest", *args])


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "aws.json.gz").write_bytes(cloudtrail_file(cloudtrail_record(), compress=True))
    (tmp_path / "gcp.jsonl").write_bytes(json_lines(log_entry()) + b"{broken\n")
    return tmp_path


def test_local_files_land_in_the_lake_and_rejects_in_a_file(inputs, settings):
    result = run(str(inputs))
    assert result.exit_code == 0, result.output
    assert "2 events new, 0 duplicates, 1 rejected" in result.stderr
    assert "gcp.jsonl record 1: malformed JSON" in result.stderr
    assert len(EventLake(settings.lake_root).read()) == 2
    [written] = list(settings.rejects_dir.glob("ingest-*.jsonl"))
    assert "malformed JSON" in written.read_text()


def test_second_ingest_of_the_same_files_counts_duplicates(inputs, settings):
    run(str(inputs / "aws.json.gz"))
    result = run(str(inputs / "aws.json.gz"))
    assert result.exit_code == 0
    assert "0 events new, 1 duplicates, 0 rejected" in result.stderr


def test_date_keeps_only_that_days_events_from_local_files(inputs, settings):
    result = run(str(inputs), "--date", "2026-03-03")
    assert result.exit_code == 0
    assert "0 events new" in result.stderr
    assert run(str(inputs), "--date", "2026-03-02").stderr.count("2 events new") == 1


def test_rejects_on_screen_are_bounded(tmp_path, settings):
    (tmp_path / "bad.jsonl").write_bytes(json_lines(log_entry()) + b"{broken\n" * 25)
    result = run(str(tmp_path / "bad.jsonl"))
    assert result.exit_code == 0
    assert result.stderr.count("malformed JSON") == 20
    assert "... and 5 more rejects" in result.stderr
    assert "25 rejected" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["ftp://host/logs"],
        ["logs", "--date", "yesterday"],
        ["logs", "--date", "2026-03-02", "--since", "2026-03-01"],
        ["logs", "--since", "2026-03-02", "--until", "2026-03-01"],
    ],
)
def test_bad_usage_exits_two(settings, args):
    result = run(*args)
    assert result.exit_code == 2, result.output


def test_missing_local_path_fails_with_exit_one(settings, tmp_path):
    result = run(str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert isinstance(result.exception, CommandFailed)
    assert "no such file" in str(result.exception)


def test_hostile_text_in_rejects_is_escaped(tmp_path, settings):
    (tmp_path / "evil\x1b[2J.jsonl").write_bytes(b"{broken\n")
    result = run(str(tmp_path))
    assert "\x1b" not in result.stderr
    assert "\\x1b[2J" in result.stderr


def _trail_key(day: datetime, n: int) -> str:
    account, region = "210987654321", "eu-central-1"
    return (
        f"audit/AWSLogs/{account}/CloudTrail/{region}/{day:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{day:%Y%m%d}T10{n:02d}Z_x{n}.json.gz"
    )


@pytest.mark.integration
def test_s3_then_lookup_events_stores_each_event_once_and_resumes(
    settings, s3_bucket, moto_endpoint, monkeypatch
):
    client, bucket = s3_bucket
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    day = (datetime.now(UTC) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    records = [
        cloudtrail_record(
            eventTime=(day + timedelta(hours=10, minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        for n in range(3)
    ]
    for n, record in enumerate(records):
        client.put_object(Bucket=bucket, Key=_trail_key(day, n), Body=cloudtrail_file(record))
    date = f"{day:%Y-%m-%d}"

    first = run(f"s3://{bucket}/audit", "--date", date)
    assert first.exit_code == 0, first.output
    assert "3 blobs: 3 events new, 0 duplicates, 0 rejected" in first.stderr
    again = run(f"s3://{bucket}/audit", "--date", date)
    assert "0 blobs: 0 events new" in again.stderr

    with CloudTrailServer(records) as server:
        lookup = run(f"cloudtrail://eu-central-1?endpoint={server.url}", "--date", date)
    assert lookup.exit_code == 0, lookup.output
    assert "0 events new, 3 duplicates" in lookup.stderr
    assert len(EventLake(settings.lake_root).read()) == 3


@pytest.mark.integration
def test_a_failing_source_exits_one_and_the_others_still_land(
    settings, inputs, moto_endpoint, monkeypatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    result = run(
        "s3://no-such-bucket-here/audit", str(inputs / "aws.json.gz"), "--date", "2026-03-02"
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, CommandFailed)
    assert "NoSuchBucket" in str(result.exception)
    assert "1 events new" in result.stderr
    assert len(EventLake(settings.lake_root).read()) == 1


def test_many_small_files_become_one_parquet_file_per_partition(tmp_path, settings):
    for n in range(30):
        (tmp_path / f"f{n}.json").write_bytes(cloudtrail_file(cloudtrail_record()))
    result = run(str(tmp_path))
    assert "30 blobs: 30 events new" in result.stderr
    lake_files = list(Path(settings.lake_root).rglob("*.parquet"))
    assert len(lake_files) == 1


def test_dropped_optional_fields_are_counted_and_the_records_stored(tmp_path, settings):
    records = [cloudtrail_record(resources=["arn:aws:lambda:x"]), cloudtrail_record()]
    (tmp_path / "a.json").write_bytes(cloudtrail_file(*records))
    result = run(str(tmp_path / "a.json"))
    assert result.exit_code == 0, result.output
    assert "2 events new, 0 duplicates, 0 rejected, 1 optional fields dropped" in result.stderr
    assert "dropped resources from 1 record" in result.stderr
    assert len(EventLake(settings.lake_root).read()) == 2
