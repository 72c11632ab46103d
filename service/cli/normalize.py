"""``functrail normalize PATH...``: print normalized events, for debugging and piping.

Events go to stdout (JSON lines, or a table for people); every reject gets one line on stderr
and a line in a rejects file, and the run still exits 0 (DESIGN.md exit codes).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from pipelines.dropped import NO_DROPS, DroppedFields
from pipelines.rejects import Reject, write_rejects
from pipelines.settings import Settings
from service.cli.app import CommandFailed, app, err, out_console

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.sources.base import Blob

_TABLE_COLUMNS = ("time", "provider", "principal", "action", "resource", "outcome", "source_ip")
_CHUNK_ROWS = 50_000
_CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]}


class Format(StrEnum):
    jsonl = "jsonl"
    table = "table"


def printable(text: object) -> str:
    """Attacker-controlled text made safe for a terminal: control characters shown escaped."""
    return str(text).translate(_CONTROL)


@app.command()
def normalize(
    paths: Annotated[list[str], typer.Argument(help="files, folders (recursive) or globs")],
    output: Annotated[
        Format | None,
        typer.Option("--format", "-f", help="jsonl (default when piped) or table"),
    ] = None,
) -> None:
    """Print the normalized events of audit log files (any supported format, gzip or not)."""
    from pipelines.normalize import normalize_chunks
    from pipelines.sources.local import PathNotFound, iter_file_blobs, resolve_paths

    settings = Settings()
    fmt = output or (Format.table if sys.stdout.isatty() else Format.jsonl)
    try:
        files = resolve_paths(paths)
    except PathNotFound as exc:
        raise CommandFailed(str(exc)) from None
    rejects: list[Reject] = []
    dropped: DroppedFields = NO_DROPS
    seen: set[str] = set()
    shown: list[pd.DataFrame] = []
    count = 0

    def note(reject: Reject) -> None:
        rejects.append(reject)
        err.print(printable(reject.line()), markup=False, highlight=False, soft_wrap=True)

    # here, not at the top: detect imports this module's helpers and shows no progress bar
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("normalize"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not (err.is_terminal and len(files) > 1),
    )
    with progress:
        task = progress.add_task("files", total=len(files))

        def counted(blobs: Iterator[Blob]) -> Iterator[Blob]:
            for blob in blobs:
                yield blob
                progress.advance(task)

        blobs = iter_file_blobs(files, settings=settings, on_reject=note)
        # Small files are merged before the DataFrame is built (its fixed cost dominates them).
        for events, blob_rejects, blob_dropped in normalize_chunks(
            counted(blobs), settings=settings, min_rows=_CHUNK_ROWS
        ):
            for reject in blob_rejects:
                note(reject)
            dropped += blob_dropped
            ids = events["id"].tolist()
            fresh = [i not in seen for i in ids]
            if not all(fresh):
                events = events[fresh]
            seen.update(ids)
            count += len(events)
            if fmt is Format.jsonl:
                _write_jsonl(events)
            else:
                shown.append(events)
    if fmt is Format.table:
        _print_table(shown)
    where = write_rejects(rejects, settings.rejects_dir, "normalize")
    report_dropped(dropped)
    summary = f"{count} events, {len(rejects)} rejected" + dropped_summary(dropped)
    err.print(summary + (f" (see {where})" if where else ""), markup=False, highlight=False)


def report_dropped(dropped: DroppedFields) -> None:
    """One stderr line per (field, reason) left out of kept records (field names are the
    normalizer's own, reasons msgspec's: no record text reaches the terminal)."""
    for line in dropped.lines():
        err.print(printable(line), markup=False, highlight=False, soft_wrap=True)


def dropped_summary(dropped: DroppedFields) -> str:
    """``, N optional fields dropped`` for a summary line; empty when none were."""
    return f", {dropped.total} optional fields dropped" if dropped else ""


def _write_jsonl(events: pd.DataFrame) -> None:
    from pipelines.events import event_records

    out = sys.stdout.buffer
    for record in event_records(events):
        out.write(orjson.dumps(record) + b"\n")
    out.flush()


def _print_table(frames: list[pd.DataFrame]) -> None:
    import pandas as pd
    from rich.table import Table
    from rich.text import Text

    table = Table(*_TABLE_COLUMNS, show_lines=False)
    for frame in frames:
        for row in frame[list(_TABLE_COLUMNS)].itertuples(index=False):
            table.add_row(*(Text("" if pd.isna(v) else printable(v)) for v in row))
    out_console().print(table, markup=False, highlight=False)
