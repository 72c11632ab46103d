"""The watcher over each kind of source (moto's server, the local LookupEvents and Logging
endpoints): new records become alerts once, and a second batch finds nothing new."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import boto3
import orjson
import pytest

from pipelines.settings import Settings
from service.db import Database
from service.watch.loop import Watcher
from tests.factories import cloudtrail_file, log_entry
from tests.fakes.cloudtrail_server import CloudTrailServer
from tests.fakes.gcp_logging_server import GcpLoggingServer
from tests.pipelines.sources.test_sqs import s3_event, through_sns, waiting
from tests.service.watch.helpers import stop_logging, stored_alerts

pytestmark = pytest.mark.integration

ACCOUNT = "210987654321"


def _watch(settings: Settings, db: Database, uri: str) -> Watcher:
    return Watcher(settings, db, [uri], interval=1, pushes=False)


def _rules(settings: Settings) -> list[str]:
    return sorted(rule for rule, _ in stored_alerts(settings).values())


def _recently(minutes: int = 2) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)


def test_sqs_notifications_raw_and_through_sns_are_detected_and_deleted_after_storing(
    settings, db, moto_endpoint, s3_bucket
):
    s3, bucket = s3_bucket
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"watch-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for n, wrap in enumerate((lambda m: m, through_sns)):
        key = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/03/02/f{n}.json.gz"
        record = stop_logging(datetime(2026, 3, 2, 10, n, tzinfo=UTC), trail=f"trail-{n}")
        s3.put_object(Bucket=bucket, Key=key, Body=cloudtrail_file(record, compress=True))
        sqs.send_message(
            QueueUrl=url, MessageBody=orjson.dumps(wrap(s3_event(bucket, key))).decode()
        )
    watcher = _watch(settings, db, f"sqs://{url}?endpoint={moto_endpoint}")

    report = watcher.step()
    assert report.blobs == 2
    assert _rules(settings) == ["aws_cloudtrail_stop_logging"] * 2
    assert waiting(sqs, url) == 0
    assert watcher.step().blobs == 0


def test_s3_new_objects_after_the_checkpoint_are_detected_once(
    settings, db, moto_endpoint, s3_bucket
):
    s3, bucket = s3_bucket
    today = datetime.now(UTC)
    folder = f"AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/{today:%Y/%m/%d}"
    name = f"{ACCOUNT}_CloudTrail_eu-west-1_{today:%Y%m%dT%H%M}Z_a.json.gz"
    s3.put_object(
        Bucket=bucket,
        Key=f"{folder}/{name}",
        Body=cloudtrail_file(stop_logging(_recently()), compress=True),
    )
    watcher = _watch(settings, db, f"s3://{bucket}?endpoint={moto_endpoint}")
    assert watcher.step().blobs == 1
    assert _rules(settings) == ["aws_cloudtrail_stop_logging"]
    assert watcher.step().blobs == 0
    later = name.replace("_a.json", "_b.json")
    s3.put_object(
        Bucket=bucket,
        Key=f"{folder}/{later}",
        Body=cloudtrail_file(stop_logging(_recently(1), trail="other"), compress=True),
    )
    assert watcher.step().blobs == 1
    assert _rules(settings) == ["aws_cloudtrail_stop_logging"] * 2


def test_lookup_events_since_the_checkpoint_are_detected_once(settings, db, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with CloudTrailServer([stop_logging(_recently())]) as server:
        watcher = _watch(settings, db, f"cloudtrail://eu-central-1?endpoint={server.url}")
        first = watcher.step()
        assert first.detected == 1
        assert _rules(settings) == ["aws_cloudtrail_stop_logging"]
        # the settle delay reads the last 15 minutes again: nothing is detected twice
        again = watcher.step()
        assert again.events == 1
        assert again.detected == 0
    assert len(stored_alerts(settings)) == 1


def test_cloud_logging_entries_since_the_checkpoint_are_detected_once(settings, db):
    when = _recently().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sink = log_entry(
        timestamp=when,
        protoPayload={
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "status": {},
            "authenticationInfo": {"principalEmail": "mallory@example.org"},
            "requestMetadata": {"callerIp": "203.0.113.9"},
            "serviceName": "logging.googleapis.com",
            "methodName": "google.logging.v2.ConfigServiceV2.DeleteSink",
            "resourceName": "projects/demo-proj/sinks/siem",
        },
        resource={"type": "logging_sink", "labels": {"project_id": "demo-proj"}},
    )
    with GcpLoggingServer([sink]) as server:
        watcher = _watch(settings, db, f"gcp-logging://demo-proj?endpoint={server.url}")
        assert watcher.step().detected == 1
        assert _rules(settings) == ["gcp_logging_sink_deleted"]
        assert watcher.step().detected == 0
