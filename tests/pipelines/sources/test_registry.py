from __future__ import annotations

import pytest

from pipelines.sources import UnknownSource, open_source
from pipelines.sources.gcp_logging import GcpLoggingSource
from pipelines.sources.local import LocalSource
from pipelines.sources.lookup_events import LookupEventsSource
from pipelines.sources.s3 import S3Source


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("s3://trail-bucket/audit", S3Source),
        ("cloudtrail://eu-central-1", LookupEventsSource),
        ("gcp-logging://demo-proj?endpoint=http://127.0.0.1:9", GcpLoggingSource),
        ("logs/*.json.gz", LocalSource),
        ("file:///var/log/trail.json", LocalSource),
    ],
)
def test_scheme_picks_the_source_class(settings, aws_env, uri, kind):
    assert isinstance(open_source(uri, settings), kind)


def test_file_uri_reads_the_path(settings):
    source = open_source("file:///var/log/trail.json", settings)
    assert isinstance(source, LocalSource)
    assert source.patterns == ["/var/log/trail.json"]


def test_endpoint_option_is_not_part_of_the_checkpoint_identity(settings, aws_env):
    source = open_source("cloudtrail://eu-central-1?endpoint=http://127.0.0.1:9", settings)
    assert isinstance(source, LookupEventsSource)
    assert source.uri == "cloudtrail://eu-central-1"
    assert source.client.meta.endpoint_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ftp://host/logs", "unknown source scheme 'ftp'"),
        ("s3://", "no bucket"),
        ("cloudtrail://", "no region"),
        ("gcp-logging://p?token=x", "unknown source option"),
        ("gcp-logging://p?endpoint=file:///etc/passwd", "http"),
    ],
)
def test_bad_uris_are_refused_with_a_reason(settings, aws_env, uri, message):
    with pytest.raises(UnknownSource, match=message):
        open_source(uri, settings)


def test_sqs_names_the_command_that_reads_it(settings):
    with pytest.raises(UnknownSource, match="functrail watch"):
        open_source("sqs://https://sqs.eu-west-1.amazonaws.com/1/q", settings)
