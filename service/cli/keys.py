"""``functrail keys create|list|revoke``: API keys. ``create`` prints the key alone on stdout."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from pipelines.settings import Settings
from service.cli.app import CommandFailed, app, err, out_console

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


class Role(StrEnum):
    viewer = "viewer"
    analyst = "analyst"
    admin = "admin"
    ingest = "ingest"


@keys_app.command("create")
def create(
    role: Annotated[
        Role, typer.Option("--role", help="viewer < analyst < admin; ingest posts events only")
    ],
    name: Annotated[str, typer.Option("--name", help="a unique name (shows in the audit log)")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="ingest keys: a provider (aws, gcp) or provider:account the key may push for; "
            "repeat it (a push with a record outside is a 403). Default: any.",
        ),
    ] = None,
) -> None:
    """Create a key and print it once, alone on stdout (it is stored only as a hash)."""
    from service.db import open_database
    from service.keys.store import DuplicateKeyName, create_key, server_secret

    settings = Settings()
    db = open_database(settings)
    try:
        with db.session() as session:
            created = create_key(
                session,
                name=name,
                role=role.value,
                secret=server_secret(settings.home),
                scopes=scope,
            )
    except DuplicateKeyName:
        raise CommandFailed(f"a key named {name!r} exists already") from None
    except ValueError as exc:
        raise CommandFailed(str(exc)) from None
    finally:
        db.dispose()
    typer.echo(created.key)
    scoped = f", scoped to {', '.join(created.identity.scopes)}" if created.identity.scopes else ""
    err.print(
        f"created {role.value} key {name!r} (id {created.identity.id}{scoped}); "
        "it is shown only this once",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


@keys_app.command("list")
def list_() -> None:
    from service.db import open_database
    from service.keys.store import list_keys

    """List keys (never the keys themselves): name, role, created, last used, revoked."""
    db = open_database(Settings())
    table = Table("id", "name", "role", "scopes", "created", "last used", "revoked")
    try:
        with db.session() as session:
            cursor: str | None = None
            while True:
                page = list_keys(session, limit=500, cursor=cursor)
                for row in page.items:
                    table.add_row(
                        row.id,
                        Text(row.name),
                        row.role,
                        Text(" ".join(row.scopes or [])),
                        _when(row.created_at),
                        _when(row.last_used_at),
                        _when(row.revoked_at),
                    )
                if not (cursor := page.next_cursor):
                    break
    finally:
        db.dispose()
    out_console().print(table)


@keys_app.command("revoke")
def revoke(key: Annotated[str, typer.Argument(help="the key's id or name")]) -> None:
    from service.db import open_database
    from service.keys.store import KeyNotFound, revoke_key

    """Revoke a key: it stops working at once."""
    db = open_database(Settings())
    try:
        with db.session() as session:
            row = revoke_key(session, key)
            name = row.name
    except KeyNotFound:
        raise CommandFailed(f"no key with id or name {key!r}") from None
    finally:
        db.dispose()
    err.print(f"revoked key {name!r}", markup=False, highlight=False, soft_wrap=True)


def _when(moment: object) -> str:
    return "" if moment is None else str(moment)[:19]
