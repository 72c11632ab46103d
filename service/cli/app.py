"""The ``functrail`` Typer application that every command module registers on."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

app = typer.Typer(
    name="functrail",
    help="Find attacks in the audit logs of serverless workloads.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

err = Console(stderr=True, emoji=False)
"""Everything meant for people goes to stderr, so stdout stays clean for pipes and scripts."""


def out_console() -> Console:
    """A console on stdout for the tables people read. As ``err``, it prints ``:name:`` as
    written, not as an emoji: resource names and user agents are the attacker's text."""
    return Console(emoji=False)


class CommandFailed(Exception):
    """A failure with a message for the operator: printed as one line, exit code 1."""


def status_line(label: str) -> tuple[Progress, TaskID]:
    """A one-line spinner on stderr for long work, shown only to a person at a terminal.

    Use as ``progress, task = status_line("ingest")`` then ``with progress: ...``.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn  # only the long commands

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    return progress, progress.add_task(label)
