"""``functrail prune [--dry-run]``: apply the retention settings (``service.retention``)."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from pipelines.settings import Settings
from service.cli.app import app

if TYPE_CHECKING:
    from service.retention.prune import PrunePlan


class Format(StrEnum):
    text = "text"
    json = "json"


@app.command("prune")
def prune_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what would be deleted, delete nothing")
    ] = False,
    output: Annotated[Format, typer.Option("--format", help="text or json")] = Format.text,
) -> None:
    """Delete lake partitions, resolved alerts, audit rows and webhook deliveries older than
    the FUNCTRAIL_RETENTION_* settings (never what an open alert's evidence needs)."""
    from service.db import open_database
    from service.retention.prune import prune

    settings = Settings()
    db = open_database(settings)
    try:
        with db.session() as session:
            plan = prune(settings, session, dry_run=dry_run)
    finally:
        db.dispose()
    if output is Format.json:
        body = {"dry_run": dry_run, **plan.as_dict()}
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    sys.stdout.write("\n".join(summary(plan, dry_run=dry_run)) + "\n")


def summary(plan: PrunePlan, *, dry_run: bool) -> list[str]:
    """The plan in lines: one per kind, then the partitions."""
    verb = "would delete" if dry_run else "deleted"
    data = plan.as_dict()
    alerts = data["alerts"]["by_status"]
    lines = [
        f"lake: {verb} {len(plan.partitions)} partition(s) before {data['lake']['before']}"
        + (
            f" ({len(plan.kept_for_evidence)} kept for open alerts' evidence)"
            if plan.kept_for_evidence
            else ""
        ),
        f"alerts: {verb} {sum(alerts.values())} ({alerts['resolved']} resolved, "
        f"{alerts['suppressed']} suppressed) last changed before {data['alerts']['before']}",
        f"audit rows: {verb} {plan.audit_rows} before {data['audit_rows']['before']}",
        f"webhook deliveries: {verb} {plan.deliveries} ended before {data['deliveries']['before']}",
    ]
    lines += [f"  {verb}: {p}" for p in data["lake"]["partitions"]]
    lines += [f"  kept (evidence): {p}" for p in data["lake"]["kept_for_evidence"]]
    return lines
