"""``/v1/rules`` (read; admin switches rules on and off) and ``/v1/models`` (read)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import Admin, Session, State, Viewer
from service.api.errors import Problem
from service.rules.schemas import ModelPage, RuleOut, RulePage, RulePatch
from service.rules.store import rule_states, set_rule_enabled

router = APIRouter(tags=["rules"])


def _rules(state: State) -> Any:
    """The pack and the user's rules (``rules_dir``), as the scoring job loads them: loaded
    once per process (they do not change while serving)."""
    if "rules" not in state.cache:
        from detectors.rules.loader import load_rules

        folder = state.settings.rules_dir
        state.cache["rules"] = load_rules([folder] if folder else [])
    return state.cache["rules"]


def _out(rule: Any, enabled: bool) -> RuleOut:
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
        enabled=enabled,
        origin="pack" if meta.builtin else "user",
        sigma_id=meta.sigma_id,
    )


@router.get("/v1/rules", summary="the rules and whether each is enabled")
def list_rules(session: Session, state: State, _: Viewer) -> RulePage:
    loaded = _rules(state)
    states = rule_states(session)
    items = [_out(rule, states.get(rule.meta.rule_id, True)) for rule in loaded.rules]
    return RulePage(items=items, load_errors=[e.line() for e in loaded.errors])


@router.patch("/v1/rules/{rule_id}", summary="enable or disable a rule (admin)")
def patch_rule(
    session: Session, state: State, key: Admin, rule_id: str, body: RulePatch
) -> RuleOut:
    rule = next((r for r in _rules(state).rules if r.meta.rule_id == rule_id), None)
    if rule is None:
        raise Problem(404, "no such rule", kind="not-found")
    set_rule_enabled(session, rule_id, body.enabled, actor=key.name)
    session.commit()
    return _out(rule, body.enabled)


@router.get("/v1/models", tags=["models"], summary="registered anomaly model versions")
def list_models(state: State, _: Viewer) -> ModelPage:
    from models.registry import ModelRegistry

    registry = ModelRegistry(state.settings.models_dir)
    return ModelPage(active=registry.active(), items=registry.versions())
