"""Job runs: the batch job records its start and end here; ``GET /v1/jobs`` reads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.jobs.models import JobRunRow
from service.query import Order, Page, paginate, where_equal

JobStatus = Literal["running", "succeeded", "failed"]
MAX_ERROR_CHARS = 4000


def record_job_run(session: Session, kind: str, params: Mapping[str, Any] | None = None) -> int:
    """Start a run (status ``running``) and return its id. Flushes; the caller commits.

    Commit this before the work starts, so a crash leaves a visible ``running`` row.
    """
    row = JobRunRow(kind=kind, params=dict(params or {}), started_at=utcnow(), status="running")
    session.add(row)
    session.flush()
    return row.id


def finish_job_run(
    session: Session,
    run_id: int,
    *,
    status: JobStatus = "succeeded",
    counts: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> JobRunRow:
    """End a run with its outcome, counts (events, alerts, rejects...) and error text."""
    row = session.get(JobRunRow, run_id)
    if row is None:
        raise LookupError(f"job run {run_id} does not exist")
    row.status = status
    row.finished_at = utcnow()
    row.counts = dict(counts or {})
    row.error = error[:MAX_ERROR_CHARS] if error else None
    session.flush()
    return row


def list_job_runs(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[JobRunRow]:
    """Newest first."""
    stmt = where_equal(select(JobRunRow), {JobRunRow.kind: kind, JobRunRow.status: status})
    order = [Order(JobRunRow.started_at), Order(JobRunRow.id)]
    return paginate(session, stmt, order, limit=limit, cursor=cursor)
