"""``sqs://``: S3 event notifications (raw or through SNS) against moto's server; a message is
deleted only once the objects it names are stored."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import orjson
import pytest

from pipelines.settings import Settings
from pipelines.sources.sqs import objects_named, open_sqs, queue_url
from tests.factories import cloudtrail_file, cloudtrail_record

pytestmark = pytest.mark.integration

WHENEVER = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


def s3_event(bucket: str, key: str, size: int = 10) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventTime": "2026-03-02T10:00:05.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": size}},
            }
        ]
    }


def through_sns(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:trail",
        "Message": orjson.dumps(message).decode(),
    }


@pytest.fixture
def queue(moto_endpoint: str, s3_bucket) -> tuple[Any, Any, str, str]:
    """(sqs client, s3 client, bucket, queue URL) on the moto server."""
    s3, bucket = s3_bucket
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"trail-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return sqs, s3, bucket, url


def waiting(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(found[n]) for n in names)


def test_raw_and_sns_wrapped_notifications_name_their_objects_and_are_deleted_once_stored(
    queue, moto_endpoint: str, tmp_path
):
    sqs, s3, bucket, url = queue
    body = cloudtrail_file(cloudtrail_record(), compress=True)
    for key in ("AWSLogs/1/CloudTrail/us-east-1/2026/03/02/a.json.gz", "AWSLogs/1/b+c.json.gz"):
        s3.put_object(Bucket=bucket, Key=key.replace("+", " "), Body=body)
    sqs.send_message(
        QueueUrl=url,
        MessageBody=orjson.dumps(
            s3_event(bucket, "AWSLogs/1/CloudTrail/us-east-1/2026/03/02/a.json.gz")
        ).decode(),
    )
    sqs.send_message(
        QueueUrl=url,
        MessageBody=orjson.dumps(through_sns(s3_event(bucket, "AWSLogs/1/b+c.json.gz"))).decode(),
    )
    source = open_sqs(f"sqs://{url}?endpoint={moto_endpoint}", Settings(home=tmp_path))

    refs = list(source.refs(*WHENEVER))
    assert sorted(r.name for r in refs) == [
        f"s3://{bucket}/AWSLogs/1/CloudTrail/us-east-1/2026/03/02/a.json.gz",
        f"s3://{bucket}/AWSLogs/1/b c.json.gz",
    ]
    assert all(r.fetch() == body for r in refs)
    assert source.arrived(refs[0]) == datetime(2026, 3, 2, 10, 0, 5, tzinfo=UTC).timestamp()
    assert waiting(sqs, url) == 2  # received, in flight, not deleted

    source.mark_done(refs[0])
    assert waiting(sqs, url) == 1
    assert [r.name for r in source.refs(*WHENEVER)] == [refs[1].name]  # still held
    source.mark_done(refs[1])
    assert waiting(sqs, url) == 0


def test_a_message_not_let_go_comes_back_after_its_visibility_timeout(queue, tmp_path):
    sqs, s3, bucket, url = queue
    s3.put_object(Bucket=bucket, Key="k.json", Body=cloudtrail_file(cloudtrail_record()))
    sqs.send_message(QueueUrl=url, MessageBody=orjson.dumps(s3_event(bucket, "k.json")).decode())
    first = open_sqs(f"sqs://{url}", Settings(home=tmp_path))
    first.visibility = 1
    assert len(list(first.refs(*WHENEVER))) == 1  # then the process dies
    time.sleep(1.5)
    second = open_sqs(f"sqs://{url}", Settings(home=tmp_path))
    refs = list(second.refs(*WHENEVER))
    assert [r.name for r in refs] == [f"s3://{bucket}/k.json"]
    second.mark_done(refs[0])
    assert waiting(sqs, url) == 0


def test_test_events_and_digests_are_deleted_with_nothing_to_read(queue, tmp_path):
    sqs, _s3, bucket, url = queue
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket}
    digest = s3_event(bucket, "AWSLogs/1/CloudTrail-Digest/us-east-1/2026/03/02/d.json.gz")
    for message in (test_event, digest):
        sqs.send_message(QueueUrl=url, MessageBody=orjson.dumps(message).decode())
    source = open_sqs(f"sqs://{url}", Settings(home=tmp_path))
    assert list(source.refs(*WHENEVER)) == []
    assert source.skipped == 2
    assert waiting(sqs, url) == 0


def test_a_deleted_object_is_a_reject_not_a_failure(queue, moto_endpoint: str, tmp_path):
    sqs, _s3, bucket, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=orjson.dumps(s3_event(bucket, "gone.json")).decode())
    from pipelines.sources import BlobRejected

    source = open_sqs(f"sqs://{url}?endpoint={moto_endpoint}", Settings(home=tmp_path))
    (ref,) = source.refs(*WHENEVER)
    with pytest.raises(BlobRejected):
        ref.fetch()


def test_cloudtrail_sns_notices_and_eventbridge_events_name_objects():
    notice = {"s3Bucket": "trail", "s3ObjectKey": ["AWSLogs/1/x.json.gz"]}
    bridge = {
        "detail-type": "Object Created",
        "time": "2026-03-02T10:00:00Z",
        "detail": {"bucket": {"name": "trail"}, "object": {"key": "y.json.gz", "size": 3}},
    }
    assert objects_named(orjson.dumps(through_sns(notice)).decode()) == [
        ("trail", "AWSLogs/1/x.json.gz", 0, None)
    ]
    assert objects_named(orjson.dumps(bridge).decode()) == [
        ("trail", "y.json.gz", 3, "2026-03-02T10:00:00Z")
    ]


def test_queue_url_takes_the_url_with_or_without_its_scheme():
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/trail"
    assert queue_url(f"sqs://{url}") == url
    assert queue_url("sqs://sqs.eu-west-1.amazonaws.com/123456789012/trail") == url
