"""``/v1/rules`` (read; admin switches rules on and off, live or shadow) and ``/v1/models``
(read; admin sets the anomaly model's mode)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from service.api.deps import Admin, Session, State, Viewer
from service.api.errors import Problem
from service.rules import MAX_DAYS
from service.rules.schemas import (
    ModelPage,
    ModelPatch,
    RuleOut,
    RulePage,
    RulePatch,
    RuleStatsOut,
)
from service.rules.stats import rule_volumes
from service.rules.store import RuleState, model_mode, rule_settings, set_model_mode, set_rule

router = APIRouter(tags=["rules"])


def find_rule(state: State, rule_id: str) -> Any:
    """The loaded rule with that id; a 404 problem when there is none."""
    rule = next((r for r in state.rules().rules if r.meta.rule_id == rule_id), None)
    if rule is None:
        raise Problem(404, "no such rule", kind="not-found")
    return rule


def _out(rule: Any, setting: RuleState) -> RuleOut:
    meta = rule.meta
    return RuleOut(
        rule_id=meta.rule_id,
        title=meta.title,
        kind=meta.kind,
        severity=meta.severity,
        score=meta.score,
        tags=list(meta.tags),
        description=meta.description,
        runbook=meta.runbook,
        enabled=setting.enabled,
        mode=setting.mode,
        origin="pack" if meta.builtin else "user",
        sigma_id=meta.sigma_id,
    )


@router.get("/v1/rules", summary="the rules, whether each is enabled, and its mode")
def list_rules(session: Session, state: State, _: Viewer) -> RulePage:
    loaded = state.rules()
    settings = rule_settings(session)
    items = [_out(rule, settings.get(rule.meta.rule_id, RuleState())) for rule in loaded.rules]
    return RulePage(items=items, load_errors=[e.line() for e in loaded.errors])


@router.patch(
    "/v1/rules/{rule_id}", summary="enable or disable a rule, or set it live or shadow (admin)"
)
def patch_rule(
    session: Session, state: State, key: Admin, rule_id: str, body: RulePatch
) -> RuleOut:
    rule = find_rule(state, rule_id)
    if body.enabled is None and body.mode is None:
        raise Problem(422, "nothing to change: give enabled or mode", kind="validation")
    setting = set_rule(session, rule_id, actor=key.name, enabled=body.enabled, mode=body.mode)
    session.commit()
    return _out(rule, setting)


@router.get(
    "/v1/rules/{rule_id}/stats",
    summary="a rule's alerts per day and their verdicts, live and shadow alike",
)
def rule_stats(
    session: Session,
    state: State,
    _: Viewer,
    rule_id: str,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="the last N UTC days")] = 30,
) -> RuleStatsOut:
    """Also answers for ids that are not rules but raise alerts (the anomaly detectors'
    ``isolation-forest``, ..., ``event_id_conflict``): ``enabled``/``mode`` are then null."""
    rule = next((r for r in state.rules().rules if r.meta.rule_id == rule_id), None)
    volume = rule_volumes(session, days, rule_ids=[rule_id])[rule_id]
    if rule is None and volume.alerts == 0:
        raise Problem(404, "no such rule, and no alerts from one of that id", kind="not-found")
    setting = rule_settings(session).get(rule_id, RuleState()) if rule is not None else None
    return RuleStatsOut.model_validate(
        asdict(volume)
        | {
            "days": days,
            "enabled": setting.enabled if setting else None,
            "mode": setting.mode if setting else None,
        }
    )


@router.get("/v1/models", tags=["models"], summary="registered anomaly model versions")
def list_models(session: Session, state: State, _: Viewer) -> ModelPage:
    from models.registry import ModelRegistry

    registry = ModelRegistry(state.settings.models_dir)
    return ModelPage(active=registry.active(), mode=model_mode(session), items=registry.versions())


@router.patch("/v1/models", tags=["models"], summary="set the anomaly model live or shadow (admin)")
def patch_models(session: Session, state: State, key: Admin, body: ModelPatch) -> ModelPage:
    set_model_mode(session, body.mode, actor=key.name)
    session.commit()
    return list_models(session, state, key)
