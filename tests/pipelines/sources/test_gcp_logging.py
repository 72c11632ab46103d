from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pandas as pd
import pytest

from pipelines.normalize import concat_batches, normalize_blob
from pipelines.sources import UnknownSource, mark_done, open_source
from pipelines.sources.gcp_logging import GcpLoggingSource, log_filter
from tests.factories import log_entry, request_log
from tests.fakes.gcp_logging_server import GcpLoggingServer

START = datetime(2026, 3, 2, tzinfo=UTC)
END = datetime(2026, 3, 3, tzinfo=UTC)
PROJECT = "demo-proj"


def stamp(seconds: float) -> str:
    return (START + timedelta(hours=10, seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry(seconds: float, **fields):
    return log_entry(timestamp=stamp(seconds), **fields)


def source(settings, server, **kw) -> GcpLoggingSource:
    return GcpLoggingSource(f"gcp-logging://{PROJECT}", settings, endpoint_url=server.url, **kw)


def source_for(settings, **kw) -> GcpLoggingSource:
    return GcpLoggingSource(
        f"gcp-logging://{PROJECT}", settings, endpoint_url="http://127.0.0.1:9", **kw
    )


def drain(src, start=START, end=END):
    blobs = list(src.blobs(start, end))
    for blob in blobs:
        mark_done(src, blob)
    return blobs


def ids_of(blobs) -> list[str]:
    return [orjson.loads(line)["insertId"] for b in blobs for line in b.data.splitlines()]


def test_filter_asks_for_every_audit_entry_and_the_request_log_by_default():
    query = log_filter(PROJECT, START, END)
    assert query == (
        'logName=("projects/demo-proj/logs/cloudaudit.googleapis.com%2Factivity"'
        ' OR "projects/demo-proj/logs/cloudaudit.googleapis.com%2Fdata_access"'
        ' OR "projects/demo-proj/logs/cloudaudit.googleapis.com%2Fsystem_event"'
        ' OR "projects/demo-proj/logs/cloudaudit.googleapis.com%2Fpolicy"'
        ' OR "projects/demo-proj/logs/run.googleapis.com%2Frequests")'
        ' AND timestamp>="2026-03-02T00:00:00.000000Z" AND timestamp<"2026-03-03T00:00:00.000000Z"'
    )
    assert "serviceName" not in query


def test_filter_with_an_allow_list_names_the_four_audit_logs_the_services_and_the_request_log():
    query = log_filter(PROJECT, START, END, ["run.googleapis.com", "iam.googleapis.com"])
    assert query == (
        '((logName=("projects/demo-proj/logs/cloudaudit.googleapis.com%2Factivity"'
        ' OR "projects/demo-proj/logs/cloudaudit.googleapis.com%2Fdata_access"'
        ' OR "projects/demo-proj/logs/cloudaudit.googleapis.com%2Fsystem_event"'
        ' OR "projects/demo-proj/logs/cloudaudit.googleapis.com%2Fpolicy")'
        ' AND protoPayload.serviceName=("run.googleapis.com" OR "iam.googleapis.com"))'
        ' OR logName=("projects/demo-proj/logs/run.googleapis.com%2Frequests"))'
        ' AND timestamp>="2026-03-02T00:00:00.000000Z" AND timestamp<"2026-03-03T00:00:00.000000Z"'
    )


@pytest.mark.integration
def test_real_client_sends_the_log_filter_ascending_with_page_size(settings):
    with GcpLoggingServer([entry(1)]) as server:
        drain(source(settings, server, page_size=7))
    [request] = server.requests
    assert request["resourceNames"] == [f"projects/{PROJECT}"]
    assert request["filter"] == log_filter(PROJECT, START, END)
    assert request["orderBy"] == "timestamp asc"
    assert request["pageSize"] == 7


@pytest.mark.integration
def test_pages_are_followed_and_batched_into_json_line_blobs_that_normalize(settings):
    entries = [entry(n) for n in range(10)]
    with GcpLoggingServer(entries) as server:
        blobs = drain(source(settings, server, page_size=3, batch_size=4))
    assert len(server.requests) == 4
    assert [blob.data.count(b"\n") for blob in blobs] == [4, 4, 2]
    batch = concat_batches(normalize_blob(b.data, b.name) for b in blobs)
    assert batch.rejects == []
    assert batch.events["id"].tolist() == [e["insertId"] for e in entries]
    assert set(batch.events["provider"]) == {"gcp"}


def control_plane(seconds: float) -> list[dict]:
    """Audit entries of services around a function that the old six-service filter left out."""
    data_access = f"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2Fdata_access"
    calls = [
        ("iamcredentials.googleapis.com", "GenerateAccessToken", data_access),
        ("storage.googleapis.com", "storage.objects.get", data_access),
        ("cloudbuild.googleapis.com", "google.devtools.cloudbuild.v1.CloudBuild.CreateBuild", None),
        ("compute.googleapis.com", "v1.compute.instances.setMetadata", None),
        (
            "serviceusage.googleapis.com",
            "google.api.serviceusage.v1.ServiceUsage.EnableService",
            None,
        ),
        ("sts.googleapis.com", "google.identity.sts.v1.SecurityTokenService.ExchangeToken", None),
    ]
    entries = []
    for n, (service, method, log) in enumerate(calls):
        found = entry(seconds + n)
        found["protoPayload"] = {
            **found["protoPayload"],
            "serviceName": service,
            "methodName": method,
        }
        if log:
            found["logName"] = log
        entries.append(found)
    return entries


@pytest.mark.integration
def test_every_audit_service_comes_through_by_default(settings):
    around = control_plane(1)
    late = log_entry(timestamp="2026-03-03T00:00:00.000000Z")
    syslog = entry(20, logName=f"projects/{PROJECT}/logs/syslog")
    with GcpLoggingServer([*around, late, syslog]) as server:
        blobs = drain(source(settings, server))
    assert ids_of(blobs) == [e["insertId"] for e in around]
    batch = concat_batches(normalize_blob(b.data, b.name) for b in blobs)
    assert set(batch.events["service"]) >= {
        "iamcredentials.googleapis.com",
        "storage.googleapis.com",
        "sts.googleapis.com",
    }


@pytest.mark.integration
def test_service_allow_list_on_the_uri_is_sent_in_the_filter_and_honoured(settings):
    around = control_plane(1)
    served = request_log(timestamp=stamp(30))
    with GcpLoggingServer([*around, served]) as server:
        uri = (
            f"gcp-logging://{PROJECT}?services=iamcredentials.googleapis.com,"
            f"storage.googleapis.com&endpoint={server.url}"
        )
        blobs = drain(open_source(uri, settings), START, END)
    sent = server.requests[0]["filter"]
    assert (
        'protoPayload.serviceName=("iamcredentials.googleapis.com" OR "storage.googleapis.com")'
        in sent
    )
    kept = {
        orjson.loads(line)["protoPayload"]["serviceName"]
        for b in blobs
        for line in b.data.splitlines()
        if b'"protoPayload"' in line
    }
    assert kept == {"iamcredentials.googleapis.com", "storage.googleapis.com"}
    assert served["insertId"] in ids_of(blobs)  # invocations whatever the allow-list


@pytest.mark.integration
def test_entries_outside_the_range_are_not_returned(settings):
    inside = entry(1)
    late = log_entry(timestamp="2026-03-03T00:00:00.000000Z")
    with GcpLoggingServer([inside, late]) as server:
        blobs = drain(source(settings, server))
    assert ids_of(blobs) == [inside["insertId"]]


def test_a_narrowed_source_keeps_its_own_checkpoint(settings):
    every = source_for(settings)
    narrowed = source_for(settings, services=["storage.googleapis.com", "iam.googleapis.com"])
    assert narrowed.uri == (
        f"gcp-logging://{PROJECT}?services=iam.googleapis.com,storage.googleapis.com"
    )
    assert every.checkpoint.path != narrowed.checkpoint.path


@pytest.mark.parametrize(
    "services",
    ['iam.googleapis.com") OR logName:("x', "IAM", "iam.googleapis.com,storage\\", ",", "a b.com"],
)
def test_allow_list_takes_only_service_names(settings, services):
    with pytest.raises(UnknownSource):
        open_source(f"gcp-logging://{PROJECT}?services={services}", settings)


def test_other_schemes_do_not_take_a_service_allow_list(settings):
    with pytest.raises(UnknownSource, match="services"):
        open_source("cloudtrail://eu-central-1?services=iam.googleapis.com", settings)


def test_project_id_is_checked_before_it_goes_into_a_filter(settings):
    with pytest.raises(UnknownSource, match="project id"):
        open_source('gcp-logging://demo"proj', settings)


@pytest.mark.integration
def test_cloud_run_request_logs_come_through_as_invocations_other_logs_do_not(settings):
    audit, served = entry(1), request_log(timestamp=stamp(3))
    stdout = request_log(
        timestamp=stamp(4), logName=f"projects/{PROJECT}/logs/run.googleapis.com%2Fstdout"
    )
    with GcpLoggingServer([audit, served, stdout]) as server:
        blobs = drain(source(settings, server))
    assert ids_of(blobs) == [audit["insertId"], served["insertId"]]
    batch = concat_batches(normalize_blob(b.data, b.name) for b in blobs)
    invoked = batch.events[batch.events["id"] == served["insertId"]].iloc[0]
    assert (invoked["action"], invoked["category"]) == ("Invoke", "invocation")
    assert pd.isna(invoked["principal"])  # the platform does not log the caller


@pytest.mark.integration
def test_rerun_skips_stored_entries_and_picks_up_new_ones(settings):
    entries = [entry(1), entry(2)]
    with GcpLoggingServer(entries) as server:
        drain(source(settings, server))
        assert drain(source(settings, server)) == []
        newer = entry(3)
        server.entries.append(newer)
        assert ids_of(drain(source(settings, server))) == [newer["insertId"]]


@pytest.mark.integration
def test_entries_sharing_the_checkpoint_timestamp_are_not_lost_or_repeated(settings):
    same = [entry(5), entry(5)]
    with GcpLoggingServer(same) as server:
        drain(source(settings, server))
        sibling = entry(5)  # ingested late, same timestamp as the checkpoint
        server.entries.append(sibling)
        assert ids_of(drain(source(settings, server))) == [sibling["insertId"]]


@pytest.mark.integration
def test_resume_rereads_the_overlap_for_late_entries(settings):
    with GcpLoggingServer([entry(600)]) as server:
        drain(source(settings, server, overlap=timedelta(minutes=5)))
        late = entry(400)  # 200 s before the checkpoint, arrived after it was written
        server.entries.append(late)
        assert ids_of(drain(source(settings, server))) == [late["insertId"]]
    assert server.requests[-1]["filter"].endswith(
        f'timestamp>="{stamp(300).replace("Z", "")}Z" AND timestamp<"2026-03-03T00:00:00.000000Z"'
    )


@pytest.mark.integration
def test_unconfirmed_blob_is_fetched_again(settings):
    with GcpLoggingServer([entry(1), entry(2)]) as server:
        list(source(settings, server).blobs(START, END))
        assert len(ids_of(drain(source(settings, server)))) == 2


def test_uri_needs_one_project(settings):
    with pytest.raises(ValueError, match="one project"):
        GcpLoggingSource("gcp-logging://a/b", settings, endpoint_url="http://127.0.0.1:9")
