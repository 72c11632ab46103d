"""``/v1/suppressions`` (analyst and above)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from service.api.deps import Analyst, Session
from service.api.errors import Problem
from service.query import MAX_LIMIT
from service.suppressions.schemas import (
    SuppressionIn,
    SuppressionOut,
    SuppressionPage,
    SuppressionPatch,
)
from service.suppressions.store import (
    SuppressionSpec,
    create_suppression,
    delete_suppression,
    get_suppression,
    list_suppressions,
)

router = APIRouter(prefix="/v1/suppressions", tags=["suppressions"])


@router.get("", summary="suppressions, newest first")
def list_(
    session: Session,
    _: Analyst,
    active: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> SuppressionPage:
    page = list_suppressions(session, active_only=active, limit=limit, cursor=cursor)
    items = [SuppressionOut.model_validate(row) for row in page.items]
    return SuppressionPage(items=items, next_cursor=page.next_cursor)


@router.post("", status_code=201, summary="suppress matching new alerts (kept, as `suppressed`)")
def create(session: Session, key: Analyst, body: SuppressionIn) -> SuppressionOut:
    spec = SuppressionSpec(**body.model_dump())
    try:
        row = create_suppression(session, spec, creator=key.name)
    except ValueError as exc:
        raise Problem(422, str(exc), kind="validation") from None
    out = SuppressionOut.model_validate(row)
    session.commit()
    return out


@router.get("/{suppression_id}")
def get(session: Session, _: Analyst, suppression_id: str) -> SuppressionOut:
    return SuppressionOut.model_validate(get_suppression(session, suppression_id))


@router.patch("/{suppression_id}", summary="change the reason or the expiry")
def patch(
    session: Session, _: Analyst, suppression_id: str, body: SuppressionPatch
) -> SuppressionOut:
    row = get_suppression(session, suppression_id)
    changes = body.model_dump(exclude_unset=True)
    if "reason" in changes and body.reason is not None:
        row.reason = body.reason
    if "expires_at" in changes:
        row.expires_at = body.expires_at
    session.flush()
    out = SuppressionOut.model_validate(row)
    session.commit()
    return out


@router.delete("/{suppression_id}", status_code=204, response_class=Response)
def delete(session: Session, _: Analyst, suppression_id: str) -> Response:
    delete_suppression(session, suppression_id)
    session.commit()
    return Response(status_code=204)
