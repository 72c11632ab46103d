"""``functrail simulate``: write days of realistic audit logs with labelled attacks.

Files go under ``--out`` in CloudTrail's S3 layout and a Logging sink's layout, with
``labels.jsonl`` beside them; progress and the summary go to stderr.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from service.cli.app import CommandFailed, app, err


@app.command("simulate")
def simulate_command(
    days: Annotated[int, typer.Option("--days", min=1, help="how many UTC days to simulate")],
    out: Annotated[Path, typer.Option("--out", help="output folder (aws/, gcp/, labels.jsonl)")],
    seed: Annotated[int, typer.Option("--seed", help="same seed, same bytes")] = 0,
    attack: Annotated[
        list[str] | None,
        typer.Option("--attack", help="scenario to inject (repeatable), or 'all'"),
    ] = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            "--start", formats=["%Y-%m-%d"], help="first day, YYYY-MM-DD (default 2026-03-02)"
        ),
    ] = None,
    scale: Annotated[
        float,
        typer.Option("--scale", min=0.001, help="multiplies traffic volume (1.0 ~ 25k events/day)"),
    ] = 1.0,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="replace aws/, gcp/ and labels.jsonl already in --out"),
    ] = False,
) -> None:
    """Write realistic CloudTrail and GCP audit log files, and a labels file of injected attacks."""
    from pipelines.simulate import ATTACKS, OutputExists, UnknownAttack, resolve, simulate

    names = attack or []
    try:
        resolve(names)
    except UnknownAttack as exc:
        raise typer.BadParameter(
            f"unknown: {', '.join(exc.names)}. Valid names: all, {', '.join(ATTACKS)}",
            param_hint="--attack",
        ) from None
    progress = Progress(
        TextColumn("simulate"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    began = time.perf_counter()
    with progress:
        task = progress.add_task("days", total=days)
        try:
            result = simulate(
                out,
                days,
                seed,
                names,
                start.date() if start else None,
                scale,
                overwrite=overwrite,
                progress=lambda done, _total: progress.update(task, completed=done),
            )
        except OutputExists as exc:
            raise CommandFailed(f"{exc} (pass --overwrite)") from None
    elapsed = time.perf_counter() - began
    total = sum(result.events.values())
    kinds = {k: sum(1 for lb in result.labels if lb.kind == k) for k in ("rule", "anomaly")}
    err.print(
        f"{total} events (aws {result.events['aws']}, gcp {result.events['gcp']}) in "
        f"{len(result.paths)} files under {out}, {elapsed:.1f} s "
        f"({total / max(elapsed, 1e-9):,.0f} events/s)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    err.print(
        f"{len(result.labels)} attacks injected "
        f"({kinds['rule']} rule, {kinds['anomaly']} anomaly): {result.labels_path}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    for label in result.labels:
        err.print(
            f"  {label.start}  {label.kind:<7} {label.scenario}: {label.description}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
