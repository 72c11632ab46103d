"""``/v1/baselines``: the baseline widenings false-positive verdicts made (viewer reads,
analyst undoes)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response

from service.api.deps import Analyst, State, Viewer
from service.api.errors import Problem
from service.baselines.schemas import BaselineAdjustment, BaselinePage
from service.baselines.store import list_adjustments, remove_adjustment

router = APIRouter(prefix="/v1/baselines", tags=["baselines"])


@router.get("", summary="baseline adjustments made by false-positive verdicts, oldest first")
def list_(state: State, _: Viewer) -> BaselinePage:
    items = [
        BaselineAdjustment(**asdict(a), note=a.note()) for a in list_adjustments(state.settings)
    ]
    return BaselinePage(items=items)


@router.delete("/{adjustment_id}", status_code=204, summary="undo one adjustment (analyst)")
def delete(state: State, _: Analyst, adjustment_id: str) -> Response:
    if not remove_adjustment(state.settings, adjustment_id):
        raise Problem(404, f"no baseline adjustment {adjustment_id}", kind="not-found")
    return Response(status_code=204)
