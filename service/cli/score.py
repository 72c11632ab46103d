"""``functrail score --date D [SOURCE...]``: the daily batch job (``service.scoring``).

The summary goes to stdout as one line per day (scripts can grep it); progress, notes and
rejects to stderr. Exit 0 when every day was scored (rejects included), 1 when a day or a
source failed, 2 on bad usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from pipelines.settings import Settings
from service.cli.app import CommandFailed, app, err, status_line
from service.cli.normalize import dropped_summary, printable, report_dropped
from service.scoring import DEFAULT_PART_EVENTS

if TYPE_CHECKING:
    from pipelines.runner import Runner
    from service.scoring.job import ScoreResult

SHOWN_REJECTS = 10


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option} wants YYYY-MM-DD, got {text!r}") from None


def days_to_score(day: str | None, first: str | None, last: str | None) -> list[date]:
    """``--date D`` or ``--from D --to D`` (inclusive) as a list of days; else bad usage."""
    one, start, end = _day(day, "--date"), _day(first, "--from"), _day(last, "--to")
    if one is not None and (start or end):
        raise typer.BadParameter("use --date or --from/--to, not both")
    if one is not None:
        return [one]
    if start is None or end is None:
        raise typer.BadParameter("give --date D, or both --from D and --to D")
    if start > end:
        raise typer.BadParameter("--from is after --to")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


@app.command()
def score(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="s3://..., cloudtrail://..., gcp-logging://..., paths or globs"),
    ] = None,
    day: Annotated[str | None, typer.Option("--date", help="the UTC day, YYYY-MM-DD")] = None,
    first: Annotated[str | None, typer.Option("--from", help="backfill: first day")] = None,
    last: Annotated[str | None, typer.Option("--to", help="backfill: last day, inclusive")] = None,
    dask: Annotated[
        str | None, typer.Option("--dask", help="run partitions on this scheduler, tcp://HOST:PORT")
    ] = None,
    part_events: Annotated[
        int, typer.Option("--partition-events", min=1000, help="events per detection partition")
    ] = DEFAULT_PART_EVENTS,
) -> None:
    """The daily job: ingest the day, detect, store alerts, queue webhooks. Idempotent."""
    from pipelines.runner import DaskRunner, LocalRunner
    from pipelines.sources import UnknownSource
    from service.db import open_database
    from service.scoring.job import ScoreFailed, score_day

    days = days_to_score(day, first, last)
    if dask is not None and not dask.startswith(("tcp://", "tls://", "inproc://")):
        raise typer.BadParameter("--dask wants a scheduler address like tcp://HOST:PORT")
    settings = Settings()
    db = open_database(settings)
    runner: Runner = LocalRunner()
    if dask is not None:
        try:
            runner = DaskRunner(dask)
        except OSError as exc:
            raise CommandFailed(f"cannot reach the Dask scheduler at {dask}: {exc}") from None
    failures: list[str] = []
    try:
        progress, task = status_line("score")
        with _locked(settings), progress:

            def say(text: str) -> None:
                progress.update(task, description=printable(text))

            for one in days:
                try:
                    result = score_day(
                        one,
                        sources or [],
                        settings,
                        db,
                        runner=runner,
                        part_events=part_events,
                        progress=say,
                    )
                except UnknownSource as exc:
                    raise typer.BadParameter(str(exc), param_hint="SOURCE") from None
                except ScoreFailed as exc:
                    failures.append(str(exc))
                    err.print(f"failed: {printable(str(exc))}", markup=False, style="red")
                    cause = exc.__cause__
                    if isinstance(cause, UnknownSource):
                        raise typer.BadParameter(str(cause), param_hint="SOURCE") from None
                    continue
                _report(result)
    finally:
        if isinstance(runner, DaskRunner):
            runner.close()
        db.dispose()
    if failures:
        raise CommandFailed(f"{len(failures)} of {len(days)} day(s) failed")


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """One score run per data folder (the scheduler in ``functrail serve`` included)."""
    from service.scoring.lock import ScoreLocked, score_lock

    try:
        with score_lock(settings):
            yield
    except ScoreLocked as exc:  # raised on entry only: the lock never waits
        raise CommandFailed(str(exc)) from None


def _report(result: ScoreResult) -> None:
    for reject in result.rejects[:SHOWN_REJECTS]:
        err.print(printable(reject.line()), markup=False, highlight=False, soft_wrap=True)
    if len(result.rejects) > SHOWN_REJECTS:
        err.print(f"... and {len(result.rejects) - SHOWN_REJECTS} more rejects", highlight=False)
    report_dropped(result.dropped)
    for note in result.notes:
        err.print(printable(note), markup=False, highlight=False, soft_wrap=True)
    severities = ", ".join(f"{n} {s}" for s, n in result.by_severity.items()) or "none"
    seconds = sum(result.timings.values())
    line = (
        f"{result.day}: {result.events} events ({result.ingested} new, {len(result.rejects)} "
        f"rejected{dropped_summary(result.dropped)}), {result.partitions} partitions, "
        f"{result.alerts} alerts ({severities}), "
        f"{result.deliveries} deliveries queued, job run {result.run_id}, {seconds:.1f}s"
    )
    if result.rejects_file:
        line += f", rejects in {result.rejects_file}"
    typer.echo(line)
