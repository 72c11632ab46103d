"""``functrail demo``: a week of simulated traffic with attacks, trained, scored and served.

Everything lives under the home (``--home`` or FUNCTRAIL_HOME, default ./functrail-data):
SQLite, the local lake, the model registry and the simulated logs.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.app import CommandFailed, app, err

if TYPE_CHECKING:
    from pipelines.settings import Settings
    from service.db import Database

HOST, PORT = "127.0.0.1", 8000


@app.command()
def demo(
    days: Annotated[int, typer.Option("--days", min=2, max=31, help="days to simulate")] = 7,
    score_days: Annotated[
        int, typer.Option("--score-days", min=1, help="last days to score (the rest train)")
    ] = 2,
    seed: Annotated[int, typer.Option("--seed", help="same seed, same demo")] = 0,
    scale: Annotated[
        float, typer.Option("--scale", min=0.01, help="traffic volume (1.0 ~ 25k events/day)")
    ] = 0.3,
    home: Annotated[Path | None, typer.Option("--home", help="data folder")] = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="serve the API after")] = True,
) -> None:
    """Simulate a week with attacks, train, score, then serve the API and console on :8000."""
    from pipelines.settings import Settings
    from service.db import open_database
    from service.scoring.demo import run_demo
    from service.scoring.job import ScoreFailed

    if score_days >= days:
        raise typer.BadParameter("--score-days must leave at least one day to train on")
    if home is not None:
        os.environ["FUNCTRAIL_HOME"] = str(home)  # serve() and its app read Settings() too
    settings = Settings()
    db = open_database(settings)
    try:
        result = run_demo(
            settings,
            db,
            days=days,
            score_days=score_days,
            seed=seed,
            scale=scale,
            say=lambda text: err.print(text, markup=False, highlight=False),
        )
        key = _analyst_key(settings, db)
    except (ScoreFailed, ValueError, OSError) as exc:
        raise CommandFailed(f"demo failed: {exc}") from exc
    finally:
        db.dispose()
    severities = ", ".join(f"{n} {s}" for s, n in sorted(result.alerts_by_severity.items()))
    total = len(result.caught) + len(result.missed)
    lines = [
        f"events: {result.events} ({result.rejects} rejected), home {settings.home}",
        f"model: {result.model_version or 'none (rules only)'}",
        f"scored: {', '.join(d.isoformat() for d in result.scored_days)}",
        f"alerts: {sum(result.alerts_by_severity.values())} ({severities or 'none'})",
        f"attacks caught: {len(result.caught)} of {total} labelled in the scored days",
        *(f"  caught: {name} by {', '.join(by)}" for name, by in result.caught_by.items()),
        *(f"  missed: {name}" for name in result.missed),
        *(
            _unmatched_line(day, n, result.unmatched_rules.get(day, {}))
            for day, n in result.unmatched.items()
        ),
        f"analyst key: {key}",
        f"try: curl -H 'Authorization: Bearer {key}' http://{HOST}:{PORT}/v1/alerts?limit=5",
        f"console: http://{HOST}:{PORT}/console",
    ]
    for line in lines:
        typer.echo(line)
    if serve:
        from service.cli.serve import serve as serve_api

        serve_api(host=HOST, port=PORT)


def _unmatched_line(day: date, count: int, rules: dict[str, int]) -> str:
    """One scored day's alerts that match no labelled attack, by rule."""
    detail = ", ".join(f"{rule} {n}" for rule, n in sorted(rules.items()))
    return f"alerts matching no labelled attack on {day.isoformat()}: {count}" + (
        f" ({detail})" if detail else ""
    )


def _analyst_key(settings: Settings, db: Database) -> str:
    from service.keys.store import DuplicateKeyName, create_key, server_secret

    secret = server_secret(settings.home)
    for n in range(100):
        name = "demo" if n == 0 else f"demo-{n}"
        try:
            with db.session() as session:
                return create_key(session, name=name, role="analyst", secret=secret).key
        except DuplicateKeyName:
            continue
    raise CommandFailed("could not name a demo key (demo .. demo-99 exist)")
