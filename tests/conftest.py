"""Shared fixtures: an isolated FUNCTRAIL_HOME per test so nothing leaks between tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import service.cli.commands  # noqa: F401  (every command on ``app``: functrail loads its own)
from pipelines.settings import Settings
from tests.factories import reset_clock


@pytest.fixture(autouse=True, scope="module")
def _event_clock_per_module() -> None:
    """Each module's factory events start at BASE_TIME: a worker that has run many tests
    would otherwise date later modules' events past midnight, out of the day they score."""
    reset_clock()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings rooted in a fresh temporary data folder (SQLite database, local lake)."""
    home = tmp_path / "home"
    monkeypatch.setenv("FUNCTRAIL_HOME", str(home))
    for name in ("FUNCTRAIL_DATABASE_URL", "FUNCTRAIL_LAKE", "FUNCTRAIL_MODELS"):
        monkeypatch.delenv(name, raising=False)
    return Settings()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server (S3, ...) on 127.0.0.1 for the session; fake AWS credentials in env."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> tuple[Any, str]:
    """A fresh bucket on the moto server, and a real boto3 S3 client pointed at it."""
    import uuid

    import boto3

    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = f"trail-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


@pytest.fixture(scope="session")
def dask_scheduler(moto_endpoint: str) -> Iterator[str]:
    """A real LocalCluster of 2 worker processes for the session (its address).

    It asks for the moto server first so that the workers, started after, inherit its fake AWS
    credentials and can read S3 themselves.
    """
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """``functrail detect``'s forked reading with a block per file (test files are too small to
    cut by size); the list holds one entry per reader forked."""
    from pipelines.normalize import parallel

    started: list[object] = []
    start = parallel._start

    def watched(*args):
        started.append(args)
        return start(*args)

    monkeypatch.setattr(parallel, "_blocks", lambda refs, most, _: [[ref] for ref in refs])
    monkeypatch.setattr(parallel, "_start", watched)
    return started
