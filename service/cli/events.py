"""``functrail events search``: the lake's events, with the filters of ``GET /v1/events``."""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table

from service.cli.alerts import safe_cells
from service.cli.app import app, err, out_console

if TYPE_CHECKING:
    import pyarrow as pa

events_app = typer.Typer(help="Search the event lake.", no_args_is_help=True)
app.add_typer(events_app, name="events")


class Format(StrEnum):
    table = "table"
    jsonl = "jsonl"


Opt = Annotated[str | None, typer.Option()]


@events_app.command("search")
def search(
    since: Annotated[
        str | None, typer.Option(help="from this time (ISO 8601, UTC; default: until - 24 h)")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="before this time (ISO 8601, UTC; default: now)")
    ] = None,
    provider: Annotated[str | None, typer.Option(help="aws or gcp")] = None,
    account: Opt = None,
    principal: Opt = None,
    principal_type: Opt = None,
    service: Opt = None,
    action: Annotated[str | None, typer.Option(help="normalized, e.g. UpdateFunctionCode")] = None,
    raw_action: Annotated[str | None, typer.Option(help="as logged")] = None,
    resource: Opt = None,
    source_ip: Annotated[str | None, typer.Option(help="an address or a CIDR network")] = None,
    user_agent: Annotated[str | None, typer.Option(help="a substring, any case")] = None,
    outcome: Annotated[str | None, typer.Option(help="success or failure")] = None,
    error_code: Opt = None,
    include_raw: Annotated[bool, typer.Option(help="add each event's raw record (jsonl)")] = False,
    output: Annotated[Format | None, typer.Option("--format", help="table or jsonl")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many events")] = 100,
) -> None:
    """Events of the lake matching every filter given, newest first (window: the last 24 h
    unless --since/--until say otherwise, at most 31 days)."""
    from pydantic import ValidationError

    from pipelines.lake import EventLake
    from pipelines.search import search_events
    from pipelines.settings import Settings
    from service.events.schemas import EventQuery
    from service.events.search import SearchRejected, event_filter, event_items
    from service.query import MAX_LIMIT

    fmt = output or (Format.table if sys.stdout.isatty() else Format.jsonl)
    given = {
        "since": since,
        "until": until,
        "provider": provider,
        "account": account,
        "principal": principal,
        "principal_type": principal_type,
        "service": service,
        "action": action,
        "raw_action": raw_action,
        "resource": resource,
        "source_ip": source_ip,
        "user_agent": user_agent,
        "outcome": outcome,
        "error_code": error_code,
    }
    try:
        query = EventQuery.model_validate({k: v for k, v in given.items() if v is not None})
        flt = event_filter(query)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "option"
        raise typer.BadParameter(first["msg"], param_hint=option) from None
    except SearchRejected as exc:
        raise typer.BadParameter(exc.message, param_hint="--" + exc.parameter) from None

    lake = EventLake(Settings().lake_root)
    shown: list[pa.Table] = []
    after, left = None, limit
    while left > 0:
        page = search_events(
            lake, flt, limit=min(left, MAX_LIMIT), after=after, include_raw=include_raw
        )
        if fmt is Format.jsonl:
            _write_jsonl(event_items(page.events))
        else:
            shown.append(page.events)
        left -= page.events.num_rows
        if (after := page.next) is None:
            break
    if fmt is Format.table:
        _print_table([row for table in shown for row in table.to_pylist()])


def _write_jsonl(items: list[dict[str, Any]]) -> None:
    out = sys.stdout
    for item in items:
        out.write(orjson.dumps(item, option=orjson.OPT_UTC_Z).decode() + "\n")
    out.flush()


def _print_table(rows: list[dict[str, Any]]) -> None:
    headers = ("time (UTC)", "provider", "account", "principal", "action", "outcome")
    table = Table(*headers, "source ip", "resource")
    for row in rows:
        moment: datetime = row["time"]
        outcome = row["outcome"] or ""
        if row["error_code"]:
            outcome = f"{outcome} ({row['error_code']})"
        cells = (
            moment.strftime("%Y-%m-%d %H:%M:%S"),
            row["provider"],
            row["account"],
            row["principal"],
            row["action"],
            outcome,
            row["source_ip"],
            row["resource"],
        )
        table.add_row(*safe_cells(*(c or "" for c in cells)))
    out_console().print(table)
    if not rows:
        err.print("no events match")
