"""``functrail webhooks dispatch|list|replay``: the delivery worker and outbox housekeeping."""

from __future__ import annotations

import contextlib
import signal
from datetime import timedelta
from enum import StrEnum
from types import FrameType
from typing import Annotated

import orjson
import typer
from rich.table import Table
from rich.text import Text

from pipelines.settings import Settings
from service.cli.app import CommandFailed, app, err

webhooks_app = typer.Typer(
    help="Deliver queued webhooks, list subscriptions, replay dead letters.",
    no_args_is_help=True,
)
app.add_typer(webhooks_app, name="webhooks")


class OutputFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"


@webhooks_app.command("dispatch")
def dispatch(
    once: Annotated[
        bool, typer.Option("--once", help="deliver what is due now, then exit")
    ] = False,
    batch: Annotated[int, typer.Option(min=1, max=500, help="deliveries claimed per pass")] = 20,
    lease: Annotated[
        float,
        typer.Option(
            min=1.0, help="seconds a claim is held; a dead worker's claims return after it"
        ),
    ] = 120.0,
) -> None:
    """Run a webhook dispatcher (any number may run against one database)."""
    from service.db import open_database
    from service.webhooks.dispatcher import Dispatcher, DispatcherConfig

    try:
        config = DispatcherConfig(batch=batch, lease=timedelta(seconds=lease))
    except ValueError as exc:  # a lease shorter than one attempt: bad usage, exit 2
        raise typer.BadParameter(str(exc), param_hint="--lease") from None
    settings = Settings()
    db = open_database(settings)
    dispatcher = Dispatcher(db.sessions, settings, config)
    try:
        if once:
            total = 0
            while attempted := dispatcher.run_once():
                total += attempted
            err.print(f"attempted {total} deliveries", markup=False, highlight=False)
            return

        def on_term(_signum: int, _frame: FrameType | None) -> None:
            dispatcher.stop(timeout=0)

        signal.signal(signal.SIGTERM, on_term)
        err.print(f"webhook dispatcher {dispatcher.name} running", markup=False, highlight=False)
        with contextlib.suppress(KeyboardInterrupt):
            dispatcher.run()
    finally:
        dispatcher.stop(timeout=30)
        db.dispose()


@webhooks_app.command("list")
def list_(
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Subscriptions with their queue: pending, delivered and dead deliveries."""
    from sqlalchemy import func, select

    from service.db import open_database
    from service.webhooks import store
    from service.webhooks.models import Delivery

    db = open_database(Settings())
    try:
        with db.session() as session:
            counts: dict[tuple[str, str], int] = {
                (sub_id, status): n
                for sub_id, status, n in session.execute(
                    select(Delivery.subscription_id, Delivery.status, func.count()).group_by(
                        Delivery.subscription_id, Delivery.status
                    )
                )
            }
            rows = []
            cursor: str | None = None
            while True:
                page = store.list_subscriptions(session, limit=500, cursor=cursor)
                rows.extend(page.items)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
    finally:
        db.dispose()
    if output is OutputFormat.jsonl:
        for sub in rows:
            record = {
                "id": sub.id,
                "url": sub.url,
                "format": sub.format,
                "min_severity": sub.min_severity,
                "enabled": sub.enabled,
                **{s: counts.get((sub.id, s), 0) for s in ("pending", "delivered", "dead")},
            }
            typer.echo(orjson.dumps(record).decode())
        return
    table = Table("id", "url", "format", "min severity", "enabled", "pending", "delivered", "dead")
    for sub in rows:
        table.add_row(
            sub.id,
            Text(sub.url),
            sub.format,
            sub.min_severity,
            "yes" if sub.enabled else "no",
            *(str(counts.get((sub.id, s), 0)) for s in ("pending", "delivered", "dead")),
        )
    err.print(table)


@webhooks_app.command("replay")
def replay(
    webhook_id: Annotated[str, typer.Argument(help="the subscription id")],
    delivery: Annotated[
        str | None, typer.Option("--delivery", help="only this delivery id")
    ] = None,
) -> None:
    """Put dead-lettered deliveries of a webhook back in the queue."""
    from service.db import open_database
    from service.webhooks import outbox, store

    db = open_database(Settings())
    try:
        with db.session() as session:
            if store.get_subscription(session, webhook_id) is None:
                raise CommandFailed(f"no webhook {webhook_id!r}")
            count = outbox.replay(session, webhook_id, delivery)
    finally:
        db.dispose()
    err.print(f"replayed {count} dead deliveries", markup=False, highlight=False)
