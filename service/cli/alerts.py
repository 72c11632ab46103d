"""``functrail alerts list``: the stored alerts, as a table for people or JSON lines for scripts."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from service.cli.app import CommandFailed, app, out_console

if TYPE_CHECKING:
    from detectors.alert import Severity, Status
    from service.alerts.store import StoredAlert

alerts_app = typer.Typer(help="Query the alert store.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")

CONTROL_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]}
"""control characters as visible escapes: attacker text cannot move the cursor or recolour"""


def safe_cells(*values: object) -> list[Text]:
    """Table cells of stored values (attacker-named principals, resources, agents): control
    characters escaped, rich markup never read."""
    return [Text(str(value).translate(CONTROL_ESCAPES)) for value in values]


class Format(StrEnum):
    table = "table"
    jsonl = "jsonl"


class SeverityOpt(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class StatusOpt(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"
    suppressed = "suppressed"


@alerts_app.command("list")
def list_(
    severity: Annotated[SeverityOpt | None, typer.Option(help="minimum severity")] = None,
    status: Annotated[StatusOpt | None, typer.Option()] = None,
    detector: Annotated[str | None, typer.Option()] = None,
    rule: Annotated[str | None, typer.Option(help="rule id")] = None,
    since: Annotated[str | None, typer.Option(help="last seen at or after (ISO 8601, UTC)")] = None,
    output: Annotated[Format | None, typer.Option("--format", help="table or jsonl")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many alerts")] = 50,
    include_shadow: Annotated[
        bool, typer.Option("--include-shadow", help="also alerts of rules in shadow mode")
    ] = False,
) -> None:
    """Alerts in the store, newest first (shadow alerts only with --include-shadow)."""
    from pipelines.settings import Settings
    from service.alerts.queries import AlertFilter, list_alerts
    from service.db import open_database
    from service.query import MAX_LIMIT

    fmt = output or (Format.table if sys.stdout.isatty() else Format.jsonl)
    sev: Severity | None = severity.value if severity else None
    stat: Status | None = status.value if status else None
    flt = AlertFilter(
        severity=sev,
        status=stat,
        detector=detector,
        rule_id=rule,
        since=_time(since),
        include_shadow=include_shadow,
    )
    db = open_database(Settings())
    alerts: list[StoredAlert] = []
    try:
        with db.session() as session:
            cursor: str | None = None
            while len(alerts) < limit:
                page = list_alerts(
                    session, flt, limit=min(MAX_LIMIT, limit - len(alerts)), cursor=cursor
                )
                alerts.extend(page.items)
                if fmt is Format.jsonl:
                    _write_jsonl(page.items)
                if not (cursor := page.next_cursor):
                    break
    finally:
        db.dispose()
    if fmt is Format.table:
        _print_table(alerts)


def _time(text: str | None, option: str = "--since") -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandFailed(f"{option} {text!r} is not an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _write_jsonl(alerts: list[StoredAlert]) -> None:
    out = sys.stdout
    for alert in alerts:
        out.write(alert.model_dump_json() + "\n")
    out.flush()


def _print_table(alerts: list[StoredAlert]) -> None:
    table = Table(
        "last seen", "severity", "status", "rule", "principal", "resource", "count", "title"
    )
    for a in alerts:
        cells = (
            a.last_seen.strftime("%Y-%m-%d %H:%M:%S"),
            a.severity,
            a.status + (" (shadow)" if a.shadow else ""),
            a.rule_id,
            a.principal or "",
            a.resource or "",
            str(a.count),
            a.title,
        )
        table.add_row(*safe_cells(*cells))
    out_console().print(table)
