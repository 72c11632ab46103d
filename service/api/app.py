"""The app factory: ``create_app(settings)`` wires the store, limits, auth and every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware

from pipelines.private import private_dir
from pipelines.settings import Settings
from pipelines.writer import push_log
from service.alerts.routes import router as alerts_router
from service.api import errors, health
from service.api.direct import DirectPaths
from service.api.limits import ApiLimits
from service.api.metrics import Metrics
from service.api.middleware import BodyTooLarge, Guard
from service.api.ratelimit import BUCKETS_FILE, RateLimiter
from service.api.state import ApiState
from service.async_reads import AsyncReads
from service.audit.writer import AuditWriter
from service.baselines.routes import router as baselines_router
from service.console.routes import router as console_router
from service.coverage.routes import router as coverage_router
from service.db import Database, open_database
from service.events.routes import router as events_router
from service.ingest.drainer import PushDrainer
from service.jobs.routes import router as jobs_router
from service.keys.cache import KeyCache
from service.keys.store import server_secret
from service.rules.routes import router as rules_router
from service.suppressions.routes import router as suppressions_router
from service.watch.service import watch_in_process
from service.webhooks.routes import router as webhooks_router

DESCRIPTION = """\
functrail's alert API. Authenticate with `Authorization: Bearer ft_...` (create keys with
`functrail keys create --role viewer|analyst|admin|ingest --name NAME`). Lists answer
`{"items": [...], "next_cursor": ...}`, newest first; errors are `application/problem+json`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    limits: ApiLimits | None = None,
) -> FastAPI:
    """A ready app; opens (and migrates) the database of ``settings`` unless one is given."""
    settings = settings or Settings()
    owns_db = database is None
    db = database or open_database(settings)
    limits = limits or ApiLimits()

    private_dir(settings.home)
    audit = AuditWriter(db)
    limiter = RateLimiter(limits.rate_per_second, limits.burst, path=settings.home / BUCKETS_FILE)
    reads = AsyncReads(db) if db.engine.dialect.name == "postgresql" else None

    metrics = Metrics(db)
    pushlog = push_log(settings)
    drainer = PushDrainer(settings, db, pushlog, metrics)
    watcher = watch_in_process(settings, db, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if watcher is None:
            drainer.start()
        else:
            watcher.start()  # it takes the pushes too, and detects them
        yield
        await anyio.to_thread.run_sync(pushlog.close)  # after the last push: its segment ends
        await anyio.to_thread.run_sync(drainer.stop)  # a last drain, if this one writes
        if watcher is not None:
            await anyio.to_thread.run_sync(watcher.stop)  # after the batch in hand
        await anyio.to_thread.run_sync(audit.close)  # after the last request: flush its rows
        if reads is not None:
            await reads.close()
        limiter.close()
        if owns_db:
            db.dispose()

    app = FastAPI(
        title="functrail",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.api = ApiState(
        settings=settings,
        db=db,
        key_secret=server_secret(settings.home),
        limits=limits,
        limiter=limiter,
        metrics=metrics,
        audit=audit,
        keys=KeyCache(),
        pushlog=pushlog,
        drainer=drainer,
        reads=reads,
        watcher=watcher,
    )
    errors.install(app)

    async def on_too_large(request: Request, exc: Exception) -> Response:
        detail = f"request body is larger than {limits.max_body_bytes} bytes"
        return errors.problem_response(request, 413, detail)

    app.add_exception_handler(BodyTooLarge, on_too_large)
    routers = (
        health.router,
        alerts_router,
        events_router,
        coverage_router,
        suppressions_router,
        rules_router,
        jobs_router,
        baselines_router,
        webhooks_router,
        console_router,
    )
    for router in routers:
        app.include_router(router)
    if limits.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(limits.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # Inside the Guard: limits, headers, metrics and the audit row apply as to routed calls.
    app.add_middleware(DirectPaths, routes=[r for router in routers for r in router.routes])
    app.add_middleware(Guard)
    return app
