"""``/v1/alerts``: thin routes over the store functions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from pipelines.events import event_records
from service.alerts.listing import list_alert_json, list_alert_json_async, walks_an_index
from service.alerts.queries import AlertFilter, get_alert, summarize
from service.alerts.schemas import (
    AlertDetail,
    AlertEvents,
    AlertListQuery,
    AlertPage,
    AlertPatch,
    AlertSummary,
    TriageOut,
    alert_filter,
    to_filter,
)
from service.alerts.store import StoredAlert
from service.alerts.triage import DispositionNotResolving, history, triage
from service.api.deps import Analyst, Session, State, Viewer
from service.api.direct import DirectRoute
from service.api.errors import Problem
from service.api.state import ApiState
from service.baselines.store import learn_from_verdict

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

Filter = Annotated[AlertFilter, Depends(alert_filter)]
ListQuery = Annotated[AlertListQuery, Query()]


async def list_(state: State, _: Viewer, query: ListQuery) -> Response:
    # Served by DirectRoute (no per-request dependency solving). The bytes skip response-model
    # validation (test_list_json_is_the_stored_alert_json keeps them equal to AlertPage's JSON).
    flt = to_filter(query)
    if state.reads is not None:
        # PostgreSQL: the round trip waits on the loop (psycopg async), not in a thread.
        body = await list_alert_json_async(
            state.reads, flt, limit=query.limit, cursor=query.cursor, rendered=state.rendered
        )
    elif walks_an_index(flt):
        # SQLite, a short local read with no network wait: on the event loop, where the thread
        # hop cost more CPU than the page (served, 2 workers: 1.98 -> 1.37 ms per request).
        body = _list_json(state, flt, query.limit, query.cursor)
    else:
        # A filter that may scan the table would stall the loop.
        body = await anyio.to_thread.run_sync(
            _list_json, state, flt, query.limit, query.cursor, limiter=state.db_slots
        )
    return Response(body, media_type="application/json")


router.add_api_route(
    "",
    list_,
    methods=["GET"],
    summary="alerts, newest first",
    response_model=AlertPage,
    route_class_override=DirectRoute,
)


def _list_json(state: ApiState, flt: AlertFilter, limit: int, cursor: str | None) -> bytes:
    with state.db.reads() as connection:
        return list_alert_json(connection, flt, limit=limit, cursor=cursor, rendered=state.rendered)


@router.get("/summary", summary="counts by severity, status, detector and day")
def summary(session: Session, _: Viewer, flt: Filter) -> AlertSummary:
    return AlertSummary.model_validate(summarize(session, flt))


@router.get("/{alert_id}", summary="one alert with its triage history")
def get(session: Session, _: Viewer, alert_id: str) -> AlertDetail:
    alert = get_alert(session, alert_id)
    trail = [
        TriageOut.model_validate(entry, from_attributes=True)
        for entry in history(session, alert_id)
    ]
    return AlertDetail(**alert.model_dump(), history=trail)


@router.patch("/{alert_id}", summary="triage: status, assignee, note, disposition (analyst)")
def patch(
    session: Session, state: State, key: Analyst, alert_id: str, body: AlertPatch
) -> StoredAlert:
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise Problem(
            422, "nothing to change: give status, assignee, note or disposition", kind="validation"
        )
    action: dict[str, Any] = {
        "status": body.status,
        "note": body.note,
        "disposition": body.disposition,
    }
    if "assignee" in changes:
        action["assignee"] = body.assignee
    try:
        alert = triage(session, alert_id, actor=key.name, **action)
    except DispositionNotResolving as exc:
        raise Problem(422, str(exc), kind="validation") from None
    session.commit()
    if "disposition" in changes or "status" in changes:
        # a false positive widens the entity's baseline; another verdict or reopening undoes it
        learn_from_verdict(state.settings, alert, alert.disposition, key.name)
    return alert


@router.get("/{alert_id}/events", summary="the evidence events, normalized and raw")
async def events(session: Session, state: State, _: Viewer, alert_id: str) -> AlertEvents:
    alert = get_alert(session, alert_id)
    ids = alert.evidence.event_ids
    slack = timedelta(days=1)
    found = await run_in_threadpool(
        _read_lake, state.settings.lake_root, ids, alert.first_seen - slack, alert.last_seen + slack
    )
    seen = {row["id"] for row in found}
    return AlertEvents(items=found, missing=[i for i in ids if i not in seen])


def _read_lake(root: str, ids: list[str], start: datetime, end: datetime) -> list[dict[str, Any]]:
    from pipelines.lake import EventLake

    return list(event_records(EventLake(root).get(ids, start=start, end=end)))
