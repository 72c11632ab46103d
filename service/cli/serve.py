"""``functrail serve``: the HTTP API on uvicorn (migrations run first; SIGTERM drains)."""

from __future__ import annotations

import atexit
from typing import Annotated

import typer

from pipelines.settings import Settings
from service.cli.app import app, err


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Run the HTTP API (and migrate the database first)."""
    import uvicorn

    from service.api.app import create_app
    from service.scheduling import start_scheduler
    from service.webhooks.background import attach_dispatcher

    settings = Settings()
    application = create_app(settings)
    attach_dispatcher(application)  # webhook deliveries run beside the API
    scheduler = start_scheduler(settings)  # here, not in the app: once, not once per worker
    if scheduler is not None:
        atexit.register(scheduler.stop)
        err.print(f"score job scheduled daily at {settings.score_schedule} UTC", highlight=False)
    err.print(
        f"functrail API on http://{host}:{port} (database {_where(settings)})",
        markup=False,
        highlight=False,
    )
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def _where(settings: Settings) -> str:
    url = settings.database
    return url.split("@")[-1] if "@" in url else url
