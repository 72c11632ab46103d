"""``functrail train``: fit the anomaly model on the lake and register a new version."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipelines.settings import Settings
from service.cli.app import CommandFailed, app, err

if TYPE_CHECKING:
    import pandas as pd

    from models.verdicts import Excluded


def _lake_reader(settings: Settings) -> Any:
    """``EventLake(root).read`` restricted to the feature columns."""
    from pipelines.features import FEATURE_COLUMNS

    try:
        from pipelines.lake import EventLake
    except ImportError as exc:  # the lake ships separately; say so rather than crash
        raise CommandFailed(f"the event lake is not available: {exc}") from exc
    lake = EventLake(settings.lake_root)

    def read(start: datetime, end: datetime) -> pd.DataFrame:
        return lake.read(start, end, columns=list(FEATURE_COLUMNS))

    return read


def _confirmed_attacks(settings: Settings, first: date, last: date) -> list[Excluded]:
    """The true positives' windows from the alert store (none when it has none)."""
    from service.baselines.store import training_exclusions
    from service.db import open_database

    db = open_database(settings)
    try:
        with db.session() as session:
            return training_exclusions(session, first, last)
    finally:
        db.dispose()


@app.command("train")
def train_command(
    start: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="first day (default: 28 days back)"),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="last day, inclusive (default: yesterday)"),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="same data and seed, same model")] = 0,
    window: Annotated[str, typer.Option("--window", help="hour or day")] = "hour",
    strays: Annotated[
        float, typer.Option("--strays-per-day", help="forest alerts a day the threshold allows")
    ] = 1.0,
    activate: Annotated[
        bool, typer.Option("--activate/--no-activate", help="make the new version active")
    ] = True,
) -> None:
    """Fit the anomaly models on the lake and register a new version in the model registry."""
    from models.bundle import TrainConfig
    from models.registry import ModelRegistry
    from models.train import lake_days, train

    if window not in ("hour", "day"):
        raise typer.BadParameter("--window must be hour or day")
    settings = Settings()
    last: date = end.date() if end else datetime.now(UTC).date() - timedelta(days=1)
    first: date = start.date() if start else last - timedelta(days=27)
    if first > last:
        raise typer.BadParameter("--from is after --to")
    config = TrainConfig(window=window, seed=seed, strays_per_day=strays)
    err.print(f"training on {first} .. {last} from {settings.lake_root}")
    exclude = _confirmed_attacks(settings, first, last)
    if exclude:
        err.print(f"leaving out the windows of {len(exclude)} alert(s) resolved as true positive")
    try:
        model = train(lake_days(_lake_reader(settings), first, last), config, exclude=exclude)
    except ValueError as exc:
        raise CommandFailed(f"cannot train on {first} .. {last}: {exc}") from exc
    registry = ModelRegistry(settings.models_dir)
    version = registry.register(model, activate=activate)
    manifest = model.manifest
    err.print(
        f"registered {version}{' (active)' if activate else ''}: "
        f"{manifest['training_events']} events, {manifest['training_windows']} windows, "
        f"{manifest['principals']} principals, threshold {manifest['threshold']:.4f}"
    )
    typer.echo(version)
