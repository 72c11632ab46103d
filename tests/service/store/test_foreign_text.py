"""Text that comes from outside (errors quoting input) is stored on both backends, NUL too."""

from __future__ import annotations

from service.jobs.models import JobRunRow
from service.jobs.store import finish_job_run, record_job_run


def test_a_job_error_quoting_a_nul_is_stored(session):
    run = record_job_run(session, "ingest")
    finish_job_run(session, run, status="failed", error="s3://bucket/a\x00b: AccessDenied")
    session.expire_all()
    stored = session.get(JobRunRow, run)
    assert stored is not None
    assert stored.error is not None
    assert stored.error.startswith("s3://bucket/a")
    assert stored.error.endswith("b: AccessDenied")
