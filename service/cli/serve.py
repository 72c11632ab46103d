"""``functrail serve``: the HTTP API on uvicorn (migrations run first; SIGTERM drains).

``--workers N`` runs N processes, each listening on its own ``SO_REUSEPORT`` socket
(``service.api.workers``) and built by ``build_app`` with its own engine, key cache, audit
writer, rate limiter and webhook dispatcher (dispatchers claim deliveries with leases, so N of
them never send one attempt twice).
"""

from __future__ import annotations

import atexit
import gc
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipelines.settings import Settings
from service.cli.app import app, err

if TYPE_CHECKING:
    from fastapi import FastAPI


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="API processes (they share the rate limit)")
    ] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="a line per request on stdout (off: every /v1 call is in the audit log)",
        ),
    ] = False,
) -> None:
    """Run the HTTP API (and migrate the database first)."""
    import uvicorn

    from service.api.workers import run_workers
    from service.retention.schedule import start_pruner
    from service.scheduling import start_scheduler

    settings = Settings()
    _prepare(settings)  # migrate once, before any worker starts
    scheduler = start_scheduler(settings)  # here, not in the app: once, not once per worker
    if scheduler is not None:
        atexit.register(scheduler.stop)
        err.print(f"score job scheduled daily at {settings.score_schedule} UTC", highlight=False)
    pruner = start_pruner(settings)  # once per box too, like the score job
    if pruner is not None:
        atexit.register(pruner.stop)
        err.print(f"retention applied daily at {settings.prune_schedule} UTC", highlight=False)
    err.print(
        f"functrail API on http://{host}:{port} (database {_where(settings)})",
        markup=False,
        highlight=False,
    )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        # Off by default: a line formatted and written per request is CPU on the hot path,
        # and the audit log already records every /v1 call (key, route, query, status, client).
        "access_log": access_log,
        "proxy_headers": False,
        "server_header": False,
        "timeout_graceful_shutdown": 10,
    }
    if workers == 1:
        uvicorn.run(build_app(settings), **options)
    else:
        run_workers(uvicorn.Config(f"{__name__}:build_app", factory=True, **options), workers)


def build_app(settings: Settings | None = None) -> FastAPI:
    """The app one process serves: the API with the webhook dispatcher beside it."""
    from service.api.app import create_app
    from service.webhooks.background import attach_dispatcher

    application = create_app(settings or Settings())
    attach_dispatcher(application)  # webhook deliveries run beside the API
    # What start-up built (modules, routes, schemas: ~190k objects) lives as long as the
    # process: out of the collector's sight, a full collection no longer walks it. It took
    # 100-140 ms each time, a stall for every request in flight.
    gc.collect()
    gc.freeze()
    return application


def _prepare(settings: Settings) -> None:
    """Migrate, re-encrypt legacy webhook secrets, and warn about a key kept with the data."""
    from service.db import open_database
    from service.webhooks.secrets import key_beside_data
    from service.webhooks.store import rewrap_secrets

    db = open_database(settings)
    try:
        with db.session() as session:
            rewrapped = rewrap_secrets(session, settings)
    finally:
        db.dispose()
    if rewrapped:
        err.print(f"re-encrypted the secrets of {rewrapped} webhook(s) with a salted scrypt key")
    beside = key_beside_data(settings)
    if beside is not None:
        err.print(
            f"warning: webhook secrets are encrypted with {beside}, in the same folder as the "
            "database: a copy of that folder decrypts them. Set FUNCTRAIL_SECRET_KEY from a "
            "secret store instead (docs/security-model.md).",
            markup=False,
            highlight=False,
            style="yellow",
        )


def _where(settings: Settings) -> str:
    url = settings.database
    return url.split("@")[-1] if "@" in url else url
