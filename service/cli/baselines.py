"""``functrail baselines list|remove``: the baseline widenings false-positive verdicts made."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import orjson
import typer

from pipelines.settings import Settings
from service.cli.app import CommandFailed, app, err

baselines_app = typer.Typer(
    help="List and undo the baseline widenings made by false-positive verdicts.",
    no_args_is_help=True,
)
app.add_typer(baselines_app, name="baselines")


@baselines_app.command("list")
def list_command(
    fmt: Annotated[str, typer.Option("--format", help="table or jsonl")] = "table",
) -> None:
    """Adjustments in force, oldest first."""
    from service.baselines.store import list_adjustments  # lazy: --help stays light

    found = list_adjustments(Settings())
    if not found:
        err.print("no baseline adjustments")
        return
    for a in found:
        if fmt == "jsonl":
            typer.echo(orjson.dumps(asdict(a) | {"note": a.note()}).decode())
        else:
            typer.echo(f"{a.id}  {a.rule_id:16s}  {a.account or '-'}  {a.entity[:60]}  {a.note()}")


@baselines_app.command("remove")
def remove_command(adjustment_id: Annotated[str, typer.Argument(help="adjustment id")]) -> None:
    """Undo one adjustment: the next scoring run uses the baseline as trained."""
    from service.baselines.store import remove_adjustment

    if not remove_adjustment(Settings(), adjustment_id):
        raise CommandFailed(f"no baseline adjustment {adjustment_id}")
    err.print(f"removed {adjustment_id}")
