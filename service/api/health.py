"""Unauthenticated probes: liveness, readiness (database and lake), Prometheus metrics."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text

from service.api.deps import State
from service.api.errors import Problem

router = APIRouter(tags=["health"])
metrics_bearer = HTTPBearer(
    auto_error=False, description="FUNCTRAIL_METRICS_TOKEN, when the operator set one"
)


@router.get("/healthz", summary="the process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="the database and the event lake answer; no watched source is stale")
def readyz(state: State) -> dict[str, Any]:
    checks = {"database": _database(state), "lake": _lake(state)}
    failed = [f"{name} unreachable" for name, ok in checks.items() if not ok]
    extra: dict[str, Any] = {"checks": checks}
    if state.watcher is not None:
        stale = state.watcher.stale()
        checks["watch"] = not stale
        extra["stale_sources"] = stale
        if stale:
            failed.append(f"watched source(s) not polled lately: {', '.join(stale)}")
    if failed:
        raise Problem(503, f"not ready: {'; '.join(failed)}", extra=extra)
    return {"status": "ready", **extra}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(metrics_bearer)],
) -> Response:
    """With ``FUNCTRAIL_METRICS_TOKEN`` set, only a scraper presenting it is answered."""
    token = state.settings.metrics_token
    if token is not None:
        presented = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
            raise Problem(
                401,
                "/metrics needs the token of FUNCTRAIL_METRICS_TOKEN",
                headers={"WWW-Authenticate": 'Bearer realm="functrail-metrics"'},
            )
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")


def _database(state: State) -> bool:
    try:
        with state.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def _lake(state: State) -> bool:
    try:
        from pyarrow import fs as pafs

        from pipelines.lake import EventLake

        lake = EventLake(state.settings.lake_root)
        if isinstance(lake.fs, pafs.LocalFileSystem):
            lake.fs.create_dir(lake.root, recursive=True)
        lake.fs.get_file_info(lake.root)
        return True
    except Exception:
        return False
