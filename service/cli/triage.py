"""``functrail alerts show|ack|resolve|reopen|assign|note ID``: triage from a terminal, against
the local store like ``alerts list``. Each action is a triage entry with its actor (the OS user,
or ``--actor``), and a new status or verdict is queued to the webhooks as from the API."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table

from pipelines.settings import Settings
from service.cli.alerts import CONTROL_ESCAPES, alerts_app, safe_cells
from service.cli.app import CommandFailed, out_console

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from detectors.alert import Disposition, Status
    from service.alerts.store import StoredAlert

IdArg = Annotated[str, typer.Argument(help="the alert id")]
ActorOpt = Annotated[
    str | None, typer.Option("--actor", help="who acts, for the triage history (default: OS user)")
]
NoteOpt = Annotated[str | None, typer.Option("--note", help="a note kept with the action")]


class DispositionOpt(StrEnum):
    true_positive = "true_positive"
    false_positive = "false_positive"
    benign = "benign"


class ShowFormat(StrEnum):
    text = "text"
    json = "json"


def os_user() -> str:
    """The login name the triage history records when no ``--actor`` is given."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers) and no LOGNAME/USER
        return "unknown"


@contextmanager
def _store() -> Iterator[Session]:
    from service.alerts.queries import AlertNotFound
    from service.alerts.triage import DispositionNotResolving
    from service.db import open_database

    db = open_database(Settings())
    try:
        with db.session() as session:
            yield session
    except AlertNotFound as exc:
        raise CommandFailed(f"no alert with id {exc}") from None
    except DispositionNotResolving as exc:
        raise CommandFailed(str(exc)) from None
    finally:
        db.dispose()


def _act(alert_id: str, actor: str | None, **action: Any) -> None:
    from service.alerts.triage import triage

    with _store() as session:
        alert = triage(session, alert_id, actor=actor or os_user(), **action)
    if "status" in action or "disposition" in action:
        from service.baselines.store import learn_from_verdict

        # as the API's PATCH: a false positive widens the entity's baseline, reopening undoes it
        learn_from_verdict(Settings(), alert, alert.disposition, actor or os_user())
    verdict = f" ({alert.disposition})" if alert.disposition else ""
    who = f", assigned to {alert.assignee}" if alert.assignee else ""
    line = f"alert {alert.id}: {alert.status}{verdict}{who}"
    typer.echo(line.translate(CONTROL_ESCAPES))


@alerts_app.command("show")
def show(
    alert_id: IdArg,
    output: Annotated[
        ShowFormat | None, typer.Option("--format", help="text (default on a terminal) or json")
    ] = None,
) -> None:
    """One alert with its evidence ids and triage history."""
    from service.alerts.queries import get_alert
    from service.alerts.triage import history

    with _store() as session:
        alert = get_alert(session, alert_id)
        trail = history(session, alert_id)
    fmt = output or (ShowFormat.text if sys.stdout.isatty() else ShowFormat.json)
    if fmt is ShowFormat.json:
        body = alert.model_dump(mode="json") | {
            "history": [
                {k: (v.isoformat() if k == "at" else v) for k, v in vars(e).items()} for e in trail
            ]
        }
        sys.stdout.buffer.write(orjson.dumps(body) + b"\n")
        sys.stdout.flush()
        return
    _print_alert(alert, trail)


def _print_alert(alert: StoredAlert, trail: list[Any]) -> None:
    console = out_console()
    facts = Table(show_header=False, box=None)
    rows = [
        ("title", alert.title),
        ("id", alert.id),
        ("severity", alert.severity),
        ("status", alert.status + (" (shadow)" if alert.shadow else "")),
        ("disposition", alert.disposition or ""),
        ("assignee", alert.assignee or ""),
        ("rule", f"{alert.detector}/{alert.rule_id}"),
        ("principal", alert.principal or ""),
        ("resource", alert.resource or ""),
        ("account", f"{alert.provider or ''} {alert.account or ''}".strip()),
        (
            "seen",
            f"{alert.count}x, {alert.first_seen:%Y-%m-%d %H:%M:%S} - {alert.last_seen:%H:%M:%S}",
        ),
        ("tags", " ".join(alert.tags)),
        ("events", " ".join(alert.evidence.event_ids[:10])),
        ("runbook", alert.runbook or ""),
    ]
    for name, value in rows:
        facts.add_row(*safe_cells(name, value))
    console.print(facts)
    if trail:
        table = Table("at", "actor", "status", "assignee", "disposition", "note", title="history")
        for e in trail:
            status = f"{e.status_from} -> {e.status_to}" if e.status_to else ""
            assigned = (
                f"{e.assignee_from or '-'} -> {e.assignee_to or '-'}"
                if (e.assignee_from or e.assignee_to)
                else ""
            )
            cells = (
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.actor,
                status,
                assigned,
                e.disposition or "",
                e.note or "",
            )
            table.add_row(*safe_cells(*cells))
        console.print(table)


@alerts_app.command("ack")
def ack(alert_id: IdArg, note: NoteOpt = None, actor: ActorOpt = None) -> None:
    """Acknowledge: someone is on it (PagerDuty receivers get acknowledge)."""
    status: Status = "acknowledged"
    _act(alert_id, actor, status=status, note=note)


@alerts_app.command("resolve")
def resolve(
    alert_id: IdArg,
    disposition: Annotated[
        DispositionOpt | None, typer.Option("--disposition", help="the verdict")
    ] = None,
    note: NoteOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Resolve, with the verdict (PagerDuty receivers get resolve)."""
    verdict: Disposition | None = disposition.value if disposition else None
    status: Status = "resolved"
    _act(alert_id, actor, status=status, disposition=verdict, note=note)


@alerts_app.command("reopen")
def reopen(alert_id: IdArg, note: NoteOpt = None, actor: ActorOpt = None) -> None:
    """Open a resolved or acknowledged alert again (its verdict is cleared, kept in history)."""
    status: Status = "open"
    _act(alert_id, actor, status=status, note=note)


@alerts_app.command("assign")
def assign(
    alert_id: IdArg,
    assignee: Annotated[str | None, typer.Argument(help="who (omit to unassign)")] = None,
    actor: ActorOpt = None,
) -> None:
    """Assign the alert to someone, or unassign it."""
    _act(alert_id, actor, assignee=assignee or None)


@alerts_app.command("note")
def note_(
    alert_id: IdArg,
    text: Annotated[str, typer.Argument(help="the note")],
    actor: ActorOpt = None,
) -> None:
    """Leave a note in the alert's triage history."""
    if not text.strip():
        raise typer.BadParameter("the note is empty", param_hint="TEXT")
    _act(alert_id, actor, note=text)
