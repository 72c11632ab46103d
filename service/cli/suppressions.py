"""``functrail suppressions list|create|delete``: the suppressions of the local store, as
``/v1/suppressions`` manages them; the creator is the OS user or ``--actor``."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Column, Table

from pipelines.settings import Settings
from service.cli.alerts import _time, safe_cells
from service.cli.app import CommandFailed, app, out_console
from service.cli.triage import ActorOpt, os_user

if TYPE_CHECKING:
    from service.suppressions.schemas import SuppressionOut

suppressions_app = typer.Typer(
    help="Suppress matching new alerts (kept as suppressed) from a terminal.",
    no_args_is_help=True,
)
app.add_typer(suppressions_app, name="suppressions")


class Format(StrEnum):
    table = "table"
    jsonl = "jsonl"


@suppressions_app.command("list")
def list_(
    active: Annotated[bool, typer.Option("--active", help="only those not expired")] = False,
    output: Annotated[Format | None, typer.Option("--format", help="table or jsonl")] = None,
) -> None:
    """Suppressions, newest first."""
    from service.db import open_database
    from service.suppressions.schemas import SuppressionOut
    from service.suppressions.store import list_suppressions

    fmt = output or (Format.table if sys.stdout.isatty() else Format.jsonl)
    db = open_database(Settings())
    items: list[SuppressionOut] = []
    try:
        with db.session() as session:
            cursor: str | None = None
            while True:
                page = list_suppressions(session, active_only=active, limit=500, cursor=cursor)
                items.extend(SuppressionOut.model_validate(row) for row in page.items)
                if not (cursor := page.next_cursor):
                    break
    finally:
        db.dispose()
    if fmt is Format.jsonl:
        for item in items:
            sys.stdout.write(item.model_dump_json() + "\n")
        sys.stdout.flush()
        return
    table = Table("rule", "principal", "resource", "source", "expires", "by", "reason")
    table.columns.insert(0, Column("id", no_wrap=True, min_width=36))  # whole: delete takes it
    for s in items:
        cells = (
            s.id,
            s.rule_id or "",
            s.principal or "",
            s.resource or "",
            s.source_cidr or "",
            f"{s.expires_at:%Y-%m-%d %H:%M}" if s.expires_at else "never",
            s.created_by,
            s.reason,
        )
        table.add_row(*safe_cells(*cells))
    out_console().print(table)


@suppressions_app.command("create")
def create(
    reason: Annotated[str, typer.Option("--reason", help="why (kept with it)")],
    rule: Annotated[str | None, typer.Option("--rule", help="rule id")] = None,
    principal: Annotated[str | None, typer.Option("--principal")] = None,
    resource: Annotated[str | None, typer.Option("--resource")] = None,
    source_cidr: Annotated[
        str | None, typer.Option("--source-cidr", help="an address or CIDR network")
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="when it ends (ISO 8601, UTC)")
    ] = None,
    actor: ActorOpt = None,
) -> None:
    """Suppress new alerts matching every criterion given (at least one); prints its id."""
    from service.db import open_database
    from service.suppressions.store import SuppressionSpec, create_suppression

    if not reason.strip():
        raise typer.BadParameter("the reason is empty", param_hint="--reason")
    spec = SuppressionSpec(
        reason=reason,
        rule_id=rule,
        principal=principal,
        resource=resource,
        source_cidr=source_cidr,
        expires_at=_time(expires, "--expires"),
    )
    db = open_database(Settings())
    try:
        with db.session() as session:
            row = create_suppression(session, spec, creator=actor or os_user())
            created = row.id
    except ValueError as exc:
        raise CommandFailed(str(exc)) from None
    finally:
        db.dispose()
    typer.echo(created)


@suppressions_app.command("delete")
def delete(suppression_id: Annotated[str, typer.Argument(help="the suppression id")]) -> None:
    """Delete a suppression (alerts it suppressed stay as they are)."""
    from service.db import open_database
    from service.suppressions.store import SuppressionNotFound, delete_suppression

    db = open_database(Settings())
    try:
        with db.session() as session:
            delete_suppression(session, suppression_id)
    except SuppressionNotFound:
        raise CommandFailed(f"no suppression with id {suppression_id}") from None
    finally:
        db.dispose()
