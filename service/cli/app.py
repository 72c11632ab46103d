"""The ``functrail`` Typer application that every command module registers on."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="functrail",
    help="Find attacks in the audit logs of serverless workloads.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

err = Console(stderr=True)
"""Everything meant for people goes to stderr, so stdout stays clean for pipes and scripts."""


class CommandFailed(Exception):
    """A failure with a message for the operator: printed as one line, exit code 1."""
