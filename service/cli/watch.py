"""``functrail watch [--interval S] SOURCE...``: near-real-time detection until stopped.

Every interval a micro-batch takes what is new from each source and the push log, stores it in
the lake, runs the rules, stores the alerts and queues their webhooks (``service.watch``); a
webhook dispatcher runs beside it. SIGTERM or SIGINT stops it after the batch in hand. One
progress line per batch (and a heartbeat a minute when idle) on stderr.
"""

from __future__ import annotations

import signal
from typing import Annotated, Any

import typer

from pipelines.settings import Settings
from service.cli.app import CommandFailed, app, err
from service.watch import DEFAULT_INTERVAL


@app.command()
def watch(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="folders, files or globs (new files), s3://..., sqs://QUEUE_URL, "
            "cloudtrail://REGION, gcp-logging://PROJECT; default FUNCTRAIL_WATCH_SOURCES"
        ),
    ] = None,
    interval: Annotated[
        float, typer.Option(min=0.05, help="seconds between micro-batches")
    ] = DEFAULT_INTERVAL,
    settle: Annotated[
        float,
        typer.Option(min=0.0, help="take a local file once it has not changed for this long"),
    ] = 0.0,
    pushes: Annotated[
        bool,
        typer.Option("--pushes/--no-pushes", help="also detect records pushed to POST /v1/events"),
    ] = True,
    dispatch: Annotated[
        bool,
        typer.Option("--dispatch/--no-dispatch", help="deliver webhooks from this process too"),
    ] = True,
    once: Annotated[bool, typer.Option("--once", help="one micro-batch, then exit")] = False,
) -> None:
    """Poll the sources every S seconds, detect each micro-batch, store alerts, queue webhooks."""
    from pipelines.sources import UnknownSource
    from service.db import open_database
    from service.watch.loop import Watcher, progress_lines

    settings = Settings()
    uris = list(sources or settings.watch_sources)
    db = open_database(settings)
    try:
        watcher = Watcher(
            settings,
            db,
            uris,
            interval=interval,
            settle=settle,
            pushes=pushes,
            on_batch=progress_lines(
                lambda line: err.print(line, markup=False, highlight=False, soft_wrap=True)
            ),
            on_wait=lambda text: err.print(text, markup=False, highlight=False, soft_wrap=True),
        )
    except UnknownSource as exc:
        raise typer.BadParameter(str(exc)) from None
    if not once:  # before the "watching" line: from that line on, SIGTERM finishes the batch

        def stop(signum: int, _frame: Any) -> None:
            err.print(
                f"{signal.Signals(signum).name}: stopping after the batch in hand", highlight=False
            )
            watcher.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    shown = ", ".join(uris) or "no sources"
    err.print(
        f"watching {shown}{' and the push log' if pushes else ''} every {interval:g} s",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if once:
        try:
            watcher.step()
        except RuntimeError as exc:
            raise CommandFailed(str(exc)) from None
        finally:
            watcher.lease.release()
        return
    dispatcher = _dispatcher(settings, db) if dispatch else None

    try:
        watcher.run()
    finally:
        if dispatcher is not None:
            dispatcher.stop()
        db.dispose()
    err.print("watch stopped", highlight=False)


def _dispatcher(settings: Settings, db: Any) -> Any:
    from service.webhooks.dispatcher import Dispatcher, DispatcherConfig

    dispatcher = Dispatcher(
        db.sessions, settings, DispatcherConfig(idle_seconds=0.25), name="watch"
    )
    dispatcher.start()
    return dispatcher
