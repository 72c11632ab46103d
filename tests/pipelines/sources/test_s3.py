from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.normalize import normalize_blob
from pipelines.sources import mark_done
from pipelines.sources.s3 import S3Source
from tests.factories import cloudtrail_file, cloudtrail_record

pytestmark = pytest.mark.integration

DAY = datetime(2026, 3, 2, tzinfo=UTC)
NEXT_DAY = datetime(2026, 3, 3, tzinfo=UTC)
A1, A2, A3 = "111111111111", "222222222222", "333333333333"
ORG = "o-abcdef1234"


def log_key(account: str, region: str, day: str, stamp: str, *, org: str | None = None) -> str:
    """Where a trail delivers a file (``day`` is YYYY/MM/DD)."""
    base = f"audit/AWSLogs/{org}/{account}" if org else f"audit/AWSLogs/{account}"
    compact = day.replace("/", "")
    name = f"{account}_CloudTrail_{region}_{compact}T{stamp}Z_r{stamp}.json.gz"
    return f"{base}/CloudTrail/{region}/{day}/{name}"


def put_log(client, bucket: str, key: str, *records) -> None:
    body = cloudtrail_file(*(records or (cloudtrail_record(),)), compress=True)
    client.put_object(Bucket=bucket, Key=key, Body=body)


@pytest.fixture
def trail(s3_bucket):
    """Two accounts, two regions, an org trail, three days, digests and an empty object."""
    client, bucket = s3_bucket
    wanted = [
        log_key(A1, "us-east-1", "2026/03/02", "0005"),
        log_key(A1, "us-east-1", "2026/03/02", "2355"),
        log_key(A1, "eu-west-1", "2026/03/02", "1200"),
        log_key(A2, "us-east-1", "2026/03/02", "0800"),
        log_key(A3, "eu-central-1", "2026/03/02", "0900", org=ORG),
    ]
    for key in wanted:
        put_log(client, bucket, key)
    for key in (
        log_key(A1, "us-east-1", "2026/03/01", "2355"),
        log_key(A2, "us-east-1", "2026/03/03", "0800"),
    ):
        put_log(client, bucket, key)
    digest = (
        f"audit/AWSLogs/{A1}/CloudTrail/us-east-1/2026/03/02/"
        f"{A1}_CloudTrail-Digest_us-east-1_trail_us-east-1_20260302T0100Z.json.gz"
    )
    client.put_object(Bucket=bucket, Key=digest, Body=b"{}")
    client.put_object(
        Bucket=bucket, Key=f"audit/AWSLogs/{A2}/CloudTrail/us-east-1/2026/03/02/empty.json.gz"
    )
    return client, bucket, wanted


def source(settings, client, bucket, **kw) -> S3Source:
    return S3Source(f"s3://{bucket}/audit", settings, client=client, **kw)


def test_lists_every_account_region_and_org_account_for_the_day_only(settings, trail):
    client, bucket, wanted = trail
    src = source(settings, client, bucket)
    names = [blob.name for blob in src.blobs(DAY, NEXT_DAY)]
    assert sorted(names) == sorted(f"s3://{bucket}/{key}" for key in wanted)
    assert src.skipped_digest == 1
    assert src.skipped_empty == 1


def test_blobs_are_the_stored_log_files_and_normalize(settings, s3_bucket):
    client, bucket = s3_bucket
    record = cloudtrail_record(eventName="AddPermission20150331v2")
    put_log(client, bucket, log_key(A1, "us-east-1", "2026/03/02", "0100"), record)
    [blob] = source(settings, client, bucket).blobs(DAY, NEXT_DAY)
    events, rejects, _ = normalize_blob(blob.data, blob.name)
    assert rejects == []
    assert events["id"].tolist() == [record["eventID"]]


def test_listing_never_walks_the_whole_bucket(settings, trail):
    client, bucket, _ = trail
    prefixes: list[tuple[str, str | None]] = []

    def note(params, **_):
        prefixes.append((params.get("Prefix", ""), params.get("Delimiter")))

    client.meta.events.register("provide-client-params.s3.ListObjectsV2", note)
    try:
        list(source(settings, client, bucket).blobs(DAY, NEXT_DAY))
    finally:
        client.meta.events.unregister("provide-client-params.s3.ListObjectsV2", note)
    assert prefixes
    for prefix, delimiter in prefixes:  # the day, and the next for files delivered late
        assert delimiter == "/" or prefix.endswith(("2026/03/02/", "2026/03/03/")), prefix


def test_a_range_of_days_reads_each_day_prefix(settings, trail):
    client, bucket, wanted = trail
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    end = datetime(2026, 3, 3, 0, 30, tzinfo=UTC)
    names = [blob.name for blob in source(settings, client, bucket).blobs(start, end)]
    assert len(names) == len(wanted) + 2


def test_rerun_after_marking_done_reads_nothing_and_then_picks_up_a_new_file(settings, trail):
    client, bucket, _wanted = trail
    first = source(settings, client, bucket)
    for blob in first.blobs(DAY, NEXT_DAY):
        mark_done(first, blob)
    assert list(source(settings, client, bucket).blobs(DAY, NEXT_DAY)) == []
    late = log_key(A1, "us-east-1", "2026/03/02", "0001")  # sorts before files already read
    put_log(client, bucket, late)
    again = [b.name for b in source(settings, client, bucket).blobs(DAY, NEXT_DAY)]
    assert again == [f"s3://{bucket}/{late}"]


def test_a_blob_not_marked_done_is_read_again(settings, trail):
    client, bucket, wanted = trail
    first = source(settings, client, bucket)
    blobs = list(first.blobs(DAY, NEXT_DAY))
    mark_done(first, blobs[0])
    rest = list(source(settings, client, bucket).blobs(DAY, NEXT_DAY))
    assert len(rest) == len(wanted) - 1
    assert blobs[0].name not in {blob.name for blob in rest}


def test_full_ignores_the_checkpoint(settings, trail):
    client, bucket, _wanted = trail
    first = source(settings, client, bucket)
    for blob in first.blobs(DAY, NEXT_DAY):
        mark_done(first, blob)
    assert len(list(source(settings, client, bucket, full=True).blobs(DAY, NEXT_DAY))) == 5


def test_object_over_the_size_limit_is_a_reject_not_a_blob(settings, s3_bucket):
    client, bucket = s3_bucket
    key = log_key(A1, "us-east-1", "2026/03/02", "0100")
    put_log(client, bucket, key)
    small = settings.model_copy(update={"max_file_bytes": 10})
    src = source(small, client, bucket)
    assert list(src.blobs(DAY, NEXT_DAY)) == []
    [reject] = src.rejects
    assert reject.source == f"s3://{bucket}/{key}"
    assert "max_file_bytes=10" in reject.reason


def test_endpoint_url_builds_a_real_client(settings, trail, moto_endpoint):
    _, bucket, wanted = trail
    src = S3Source(f"s3://{bucket}/audit/", settings, endpoint_url=moto_endpoint)
    assert len(list(src.blobs(DAY, NEXT_DAY))) == len(wanted)


def test_bucket_without_prefix_uses_awslogs_at_the_root(settings, s3_bucket):
    client, bucket = s3_bucket
    key = log_key(A1, "us-east-1", "2026/03/02", "0100").removeprefix("audit/")
    put_log(client, bucket, key)
    src = S3Source(f"s3://{bucket}", settings, client=client)
    assert [b.name for b in src.blobs(DAY, NEXT_DAY)] == [f"s3://{bucket}/{key}"]


def test_a_long_range_lists_only_the_day_folders_that_exist(settings, trail):
    client, bucket, wanted = trail
    calls: list[str] = []

    def note(params, **_):
        calls.append(params.get("Prefix", ""))

    client.meta.events.register("provide-client-params.s3.ListObjectsV2", note)
    try:
        start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC)
        names = [b.name for b in source(settings, client, bucket).blobs(start, end)]
    finally:
        client.meta.events.unregister("provide-client-params.s3.ListObjectsV2", note)
    assert len(names) == len(wanted) + 2
    assert len(calls) < 60  # not one listing per day of seven years


def test_the_first_hour_of_the_next_days_folder_is_read_and_never_marked_done(settings, s3_bucket):
    client, bucket = s3_bucket
    day = log_key(A1, "us-east-1", "2026/03/02", "2350")
    late = log_key(A1, "us-east-1", "2026/03/03", "0007")  # 23:55-23:59 events, delivered 00:07
    next_day = log_key(A1, "us-east-1", "2026/03/03", "0105")
    odd = f"audit/AWSLogs/{A1}/CloudTrail/us-east-1/2026/03/03/copied-by-hand.json.gz"
    for key in (day, late, next_day, odd):
        put_log(client, bucket, key)

    src = source(settings, client, bucket)
    blobs = list(src.blobs(DAY, NEXT_DAY))
    for blob in blobs:
        mark_done(src, blob)

    assert [b.name for b in blobs] == [f"s3://{bucket}/{day}", f"s3://{bucket}/{late}"]
    names = [
        b.name
        for b in source(settings, client, bucket).blobs(NEXT_DAY, NEXT_DAY + (NEXT_DAY - DAY))
    ]
    assert sorted(names) == sorted(f"s3://{bucket}/{k}" for k in (late, next_day, odd))
