"""``GET /v1/jobs``: what the batch jobs did (viewer and above)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from service.api.deps import Session, Viewer
from service.api.errors import Problem
from service.jobs.models import JobRunRow
from service.jobs.schemas import JobRunOut, JobRunPage
from service.jobs.store import list_job_runs
from service.query import MAX_LIMIT

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("", summary="job runs, newest first")
def list_(
    session: Session,
    _: Viewer,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> JobRunPage:
    page = list_job_runs(session, kind=kind, status=status, limit=limit, cursor=cursor)
    return JobRunPage(
        items=[JobRunOut.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/{run_id}")
def get(session: Session, _: Viewer, run_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> JobRunOut:
    row = session.get(JobRunRow, run_id)
    if row is None:
        raise Problem(404, "no such job run", kind="not-found")
    return JobRunOut.model_validate(row)
