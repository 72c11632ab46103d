"""``functrail rules stats``: alert volume per rule from the local store, live and shadow alike,
with the verdicts analysts gave (the same counts as ``GET /v1/rules/{id}/stats``)."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.table import Table
from rich.text import Text

from pipelines.settings import Settings
from service.cli.app import out_console
from service.cli.normalize import printable
from service.cli.rules import Format, rules_app
from service.rules import MAX_DAYS

if TYPE_CHECKING:
    from service.rules.stats import RuleVolume


@rules_app.command("stats")
def stats(
    rule_ids: Annotated[
        list[str] | None, typer.Argument(help="rule ids (default: every rule with alerts)")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=MAX_DAYS, help="the last N UTC days")] = 30,
    output: Annotated[
        Format | None, typer.Option("--format", "-f", help="table (default on a terminal) or jsonl")
    ] = None,
) -> None:
    """Alerts per rule (per day for the rules named) and their verdicts, shadow rules included."""
    from service.db import open_database
    from service.rules.stats import rule_volumes
    from service.rules.store import RuleState, rule_settings

    fmt = output or (Format.table if sys.stdout.isatty() else Format.jsonl)
    db = open_database(Settings())
    try:
        with db.session() as session:
            volumes = rule_volumes(session, days, rule_ids=rule_ids or None)
            modes = {r: s.mode for r, s in rule_settings(session).items()}
    finally:
        db.dispose()
    ordered = sorted(volumes.values(), key=lambda v: (-v.alerts, v.rule_id))
    if fmt is Format.jsonl:
        out = sys.stdout.buffer
        for volume in ordered:
            row = asdict(volume) | {"days": days, "mode": modes.get(volume.rule_id, "live")}
            out.write(orjson.dumps(row, option=orjson.OPT_UTC_Z) + b"\n")
        out.flush()
        return
    console = out_console()
    if rule_ids:
        for volume in ordered:
            console.print(_days_table(volume, modes.get(volume.rule_id, RuleState().mode)))
        return
    table = Table("rule", "mode", "alerts", "shadow", "true_positive", "false_positive", "benign")
    table.title = f"alerts per rule, last {days} days"
    for volume in ordered:
        verdicts = volume.by_disposition
        table.add_row(
            Text(printable(volume.rule_id)),
            Text(modes.get(volume.rule_id, "live")),
            *(Text(str(n)) for n in (volume.alerts, volume.shadow, *verdicts.values())),
        )
    console.print(table)


def _days_table(volume: RuleVolume, mode: str) -> Table:
    table = Table("day", "alerts", "shadow", "true_positive", "false_positive", "benign")
    table.title = f"{printable(volume.rule_id)} ({mode}): {volume.alerts} alerts"
    for day in volume.by_day:
        counts = (day.alerts, day.shadow, *day.by_disposition.values())
        table.add_row(Text(day.day.isoformat()), *(Text(str(n)) for n in counts))
    return table
