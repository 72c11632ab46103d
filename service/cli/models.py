"""``functrail models list|activate|rollback``: the versions in the model registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from pipelines.settings import Settings
from service.cli.app import CommandFailed, app, err

if TYPE_CHECKING:
    from models.registry import ModelRegistry

models_app = typer.Typer(help="List, activate and roll back anomaly model versions.")
app.add_typer(models_app, name="models")


def _registry() -> ModelRegistry:
    from models.registry import ModelRegistry

    return ModelRegistry(Settings().models_dir)


@models_app.command("list")
def list_command(
    fmt: Annotated[str, typer.Option("--format", help="table or jsonl")] = "table",
) -> None:
    """List model versions, oldest first; the active one is marked."""
    registry = _registry()
    active = registry.active()
    versions = registry.versions()
    if not versions:
        err.print(f"no model versions in {registry.root}: run `functrail train`")
        return
    for m in versions:
        span = m.get("training_span", {})
        if fmt == "jsonl":
            row = {
                k: m.get(k)
                for k in ("version", "name", "created", "window", "threshold", "data_sha256")
            }
            row |= {"active": m["version"] == active, "training_span": span}
            typer.echo(orjson.dumps(row).decode())
        else:
            mark = "*" if m["version"] == active else " "
            typer.echo(
                f"{mark} {m['version']}  {m.get('created', '')[:19]}  "
                f"{span.get('start', '')[:10]}..{span.get('end', '')[:10]}  "
                f"events={m.get('training_events')}  threshold={m.get('threshold', 0):.4f}"
            )


@models_app.command("activate")
def activate_command(version: Annotated[str, typer.Argument(help="e.g. v0003")]) -> None:
    """Make VERSION the model the detectors use."""
    try:
        _registry().activate(version)
    except KeyError as exc:
        raise CommandFailed(str(exc.args[0])) from exc
    err.print(f"active model: {version}")


@models_app.command("rollback")
def rollback_command() -> None:
    """Go back to the version that was active before the current one."""
    from models.registry import NoTrainedModel

    try:
        version = _registry().rollback()
    except NoTrainedModel as exc:
        raise CommandFailed(str(exc)) from exc
    err.print(f"active model: {version}")
    typer.echo(version)
