"""``functrail ingest SOURCE...``: pull audit records from sources into the event lake.

For each blob: normalize (to Arrow); every ~50k events: ``EventLake.append_table``, then the
checkpoints of the blobs in that append. A checkpoint moves only after its events are in the
lake, so a killed run refetches at most one unfinished append's blobs, and the lake drops
what it already holds.
Rejects never stop the run (exit 0, counted and written to a rejects file); a source that
fails (network, permissions) is reported, the other sources go on, and the run exits 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc
import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn

from pipelines.checkpoints import CheckpointError
from pipelines.lake import EventLake
from pipelines.normalize import normalize_table
from pipelines.rejects import Reject, write_rejects
from pipelines.settings import Settings
from pipelines.sources import Blob, Source, UnknownSource, mark_done, open_source
from pipelines.sources.local import LocalSource, PathNotFound
from service.cli.app import CommandFailed, app, err
from service.cli.normalize import printable

SHOWN_REJECTS = 20
FLUSH_EVENTS = 50_000
FLUSH_BLOBS = 500
DEFAULT_LOOKBACK = timedelta(days=1)


@dataclass
class Tally:
    """What a run did, for the progress line and the summary."""

    blobs: int = 0
    new: int = 0
    duplicates: int = 0
    rejects: list[Reject] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.new} events new, {self.duplicates} duplicates, {len(self.rejects)} rejected"


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
    tally = Tally()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("ingest")
        for source in opened:
            try:
                _ingest_source(source, lake, settings, start, end, chosen, tally, progress, task)
            except PathNotFound as exc:
                tally.failed.append(f"{source.uri}: {exc}")
            except Exception as exc:  # one failing source must not stop the others
                tally.failed.append(f"{source.uri}: {type(exc).__name__}: {exc}")
    _report(tally, settings)
    if tally.failed:
        raise CommandFailed(f"{len(tally.failed)} source(s) failed: " + "; ".join(tally.failed))


def _ingest_source(
    source: Source,
    lake: EventLake,
    settings: Settings,
    start: datetime,
    end: datetime,
    chosen: bool,
    tally: Tally,
    progress: Progress,
    task: TaskID,
) -> None:
    local = isinstance(source, LocalSource)
    batch = _Pending(source, lake, tally)
    for blob in source.blobs(start, end):
        events, rejects = normalize_table(blob.data, blob.name, settings=settings)
        if local and chosen:
            # Local files are not laid out by time; cloud sources already fetched the range.
            events = _within(events, start, end)
        tally.rejects.extend(rejects)
        batch.add(blob, events)
        if batch.events >= FLUSH_EVENTS or len(batch.blobs) >= FLUSH_BLOBS:
            batch.flush()
        progress.update(task, description=f"{tally.blobs} blobs, {tally.line()}")
    batch.flush()
    tally.rejects.extend(getattr(source, "rejects", ()))


@dataclass
class _Pending:
    """Blobs normalized but not yet in the lake: appended together, then checkpointed.

    Appending per blob would write one small Parquet file per blob and partition; a batch of
    thousands of events keeps files few and the checkpoint still never runs ahead.
    """

    source: Source
    lake: EventLake
    tally: Tally
    blobs: list[Blob] = field(default_factory=list)
    tables: list[pa.Table] = field(default_factory=list)
    events: int = 0

    def add(self, blob: Blob, events: pa.Table) -> None:
        self.blobs.append(blob)
        if events.num_rows:
            self.tables.append(events)
            self.events += events.num_rows

    def flush(self) -> None:
        if self.tables:
            new = self.lake.append_table(pa.concat_tables(self.tables))
            self.tally.new += new
            self.tally.duplicates += self.events - new
        for blob in self.blobs:
            mark_done(self.source, blob)
        self.tally.blobs += len(self.blobs)
        self.blobs, self.tables, self.events = [], [], 0


def _within(events: pa.Table, start: datetime, end: datetime) -> pa.Table:
    """Events with ``start <= time < end`` (Arrow twin of ``pipelines.normalize.filter_time``)."""
    kind = events.schema.field("time").type
    times = events["time"]
    keep = pc.and_(
        pc.greater_equal(times, pa.scalar(start, kind)), pc.less(times, pa.scalar(end, kind))
    )
    return events.filter(pc.fill_null(keep, False))


def _report(tally: Tally, settings: Settings) -> None:
    for reject in tally.rejects[:SHOWN_REJECTS]:
        err.print(printable(reject.line()), markup=False, highlight=False, soft_wrap=True)
    if len(tally.rejects) > SHOWN_REJECTS:
        err.print(f"... and {len(tally.rejects) - SHOWN_REJECTS} more rejects", highlight=False)
    where = write_rejects(tally.rejects, settings.rejects_dir, "ingest")
    for failure in tally.failed:
        err.print(f"failed: {printable(failure)}", markup=False, highlight=False, style="red")
    summary = f"{tally.blobs} blobs: {tally.line()}" + (f" (rejects in {where})" if where else "")
    err.print(summary, markup=False, highlight=False)
