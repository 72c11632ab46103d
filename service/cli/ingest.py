"""``functrail ingest SOURCE...``: pull audit records from sources into the event lake.

The loop itself is ``pipelines.ingest.ingest_sources`` (shared with the daily job): a checkpoint
moves only after its events are in the lake, so a killed run refetches at most one unfinished
append's blobs, and the lake drops what it already holds.
Rejects never stop the run (exit 0, counted and written to a rejects file); a source that
fails (network, permissions) is reported, the other sources go on, and the run exits 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from pipelines.rejects import write_rejects
from pipelines.settings import Settings
from service.cli.app import CommandFailed, app, err, status_line
from service.cli.normalize import printable, report_dropped

if TYPE_CHECKING:
    from pipelines.ingest import IngestTally
    from pipelines.sources import Source

SHOWN_REJECTS = 20
DEFAULT_LOOKBACK = timedelta(days=1)


def time_range(
    day: str | None, since: str | None, until: str | None, *, now: datetime
) -> tuple[datetime, datetime, bool]:
    """``[start, end)`` in UTC and whether the user chose it; raises BadParameter if malformed."""
    if day is not None and (since is not None or until is not None):
        raise typer.BadParameter("use --date or --since/--until, not both")
    if day is not None:
        start = datetime.combine(_parse_date(day), time(), tzinfo=UTC)
        return start, start + timedelta(days=1), True
    start = _parse_time(since, "--since") if since else now - DEFAULT_LOOKBACK
    end = _parse_time(until, "--until") if until else now
    if start >= end:
        raise typer.BadParameter(f"--since ({start.isoformat()}) is not before --until")
    return start, end, since is not None or until is not None


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"--date wants YYYY-MM-DD, got {text!r}") from None


def _parse_time(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option} wants an ISO 8601 time, got {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@app.command()
def ingest(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="s3://bucket/prefix, cloudtrail://REGION, gcp-logging://PROJECT, paths"
        ),
    ],
    day: Annotated[str | None, typer.Option("--date", help="one UTC day, YYYY-MM-DD")] = None,
    since: Annotated[str | None, typer.Option(help="start (ISO 8601, UTC if no offset)")] = None,
    until: Annotated[str | None, typer.Option(help="end, exclusive (default: now)")] = None,
    full: Annotated[bool, typer.Option("--full", help="ignore checkpoints, re-read all")] = False,
) -> None:
    """Pull from sources into the lake, resuming from checkpoints (default: the last day)."""
    from pipelines.checkpoints import CheckpointError
    from pipelines.ingest import ingest_sources
    from pipelines.lake import EventLake
    from pipelines.sources import UnknownSource, open_source
    from pipelines.sources.local import LocalSource

    settings = Settings()
    start, end, chosen = time_range(day, since, until, now=datetime.now(UTC))
    opened: list[Source] = []
    for uri in sources:
        try:
            opened.append(open_source(uri, settings, full=full))
        except UnknownSource as exc:
            raise typer.BadParameter(str(exc), param_hint="SOURCE") from None
        except CheckpointError as exc:
            raise CommandFailed(str(exc)) from None
    lake = EventLake(settings.lake_root)
    progress, task = status_line("ingest")
    with progress:

        def show(tally: IngestTally) -> None:
            progress.update(task, description=f"{tally.blobs} blobs, {tally.line()}")

        # Cloud sources fetch just the range; local files hold any days, so a named range is cut.
        tally = ingest_sources(
            opened,
            lake,
            settings,
            start,
            end,
            clip=lambda source: chosen and isinstance(source, LocalSource),
            on_progress=show,
        )
    _report(tally, settings)
    if tally.conflicts:
        _raise_conflicts(tally, settings)
    if tally.failed:
        raise CommandFailed(f"{len(tally.failed)} source(s) failed: " + "; ".join(tally.failed))


def _raise_conflicts(tally: IngestTally, settings: Settings) -> None:
    """Store an ``event_id_conflict`` alert for each conflict (and queue its webhooks)."""
    from service.db import open_database
    from service.ingest.conflicts import store_conflicts

    db = open_database(settings)
    try:
        with db.session() as session:
            store_conflicts(session, tally.conflicts)
    finally:
        db.dispose()
    err.print(
        f"{len(tally.conflicts)} event id(s) arrived with two different contents: "
        "event_id_conflict alerts stored",
        highlight=False,
        style="yellow",
    )


def _report(tally: IngestTally, settings: Settings) -> None:
    for reject in tally.rejects[:SHOWN_REJECTS]:
        err.print(printable(reject.line()), markup=False, highlight=False, soft_wrap=True)
    if len(tally.rejects) > SHOWN_REJECTS:
        err.print(f"... and {len(tally.rejects) - SHOWN_REJECTS} more rejects", highlight=False)
    where = write_rejects(tally.rejects, settings.rejects_dir, "ingest")
    report_dropped(tally.dropped)
    for failure in tally.failed:
        err.print(f"failed: {printable(failure)}", markup=False, highlight=False, style="red")
    summary = f"{tally.blobs} blobs: {tally.line()}" + (f" (rejects in {where})" if where else "")
    err.print(summary, markup=False, highlight=False)
