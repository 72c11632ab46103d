"""``functrail coverage``: each account's coverage (``GET /v1/coverage``) at a terminal."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.table import Table
from rich.text import Text

from pipelines.settings import Settings
from service.cli.alerts import CONTROL_ESCAPES, safe_cells
from service.cli.app import app, err, out_console

if TYPE_CHECKING:
    from service.coverage.schemas import CoveragePage


class Format(StrEnum):
    table = "table"
    json = "json"


@app.command("coverage")
def coverage(
    at: Annotated[
        str | None, typer.Option(help="assess as of this time (ISO 8601, UTC; default now)")
    ] = None,
    output: Annotated[Format | None, typer.Option("--format", help="table or json")] = None,
) -> None:
    """Which accounts still send what they used to: ok, silent or degraded, with reasons."""
    from pipelines.lake import EventLake
    from service.coverage.report import coverage_report
    from service.coverage.schemas import page_out
    from service.db import open_database
    from service.fields import bounded_utc
    from service.rules.store import rule_states

    fmt = output or (Format.table if sys.stdout.isatty() else Format.json)
    try:
        moment = bounded_utc(datetime.fromisoformat(at.replace("Z", "+00:00"))) if at else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--at") from None
    settings = Settings()
    db = open_database(settings)
    try:
        with db.session() as session:
            enabled = rule_states(session)
    finally:
        db.dispose()
    lake = EventLake(settings.lake_root)
    report = coverage_report(lake, settings, moment or datetime.now(UTC), enabled=enabled)
    page = page_out(report)
    if fmt is Format.json:
        body = page.model_dump(mode="json")
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    _print_table(page)


def _print_table(page: CoveragePage) -> None:
    table = Table()
    for name in ("provider", "account", "status", "last event (UTC)", "24 h", "usual/day"):
        table.add_column(name, no_wrap=True)
    table.add_column("log types")
    table.add_column("reasons")
    for item in page.items:
        cells = (
            item.provider,
            item.account,
            item.status,
            item.last_event.strftime("%Y-%m-%d %H:%M"),
            f"{item.events_24h:,}",
            f"{item.baseline_per_day:,.0f}",
            ", ".join(t.name for t in item.log_types),
            "; ".join(item.reasons)
            + (
                f"; blind without data events: {', '.join(item.rules_without_data)}"
                if item.rules_without_data
                else ""
            ),
        )
        table.add_row(*safe_cells(*cells))
    console = out_console()
    console.print(table)
    if not page.items:
        err.print("no events in the lake over the window")
    for source in page.failing_sources:
        line = f"source failing ({source.failures} in a row): {source.uri}: {source.last_error}"
        err.print(Text(line.translate(CONTROL_ESCAPES), style="red"))
