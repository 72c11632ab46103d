"""Which modules register which command on the app, so a run imports only the one it runs.

Importing every command module and letting Typer build a click command for each of them
cost ~0.1 s of CPU on every start-up, most of ``functrail detect``'s on a small file; a run
names its command first (the app has no options of its own), so ``register(argv)`` imports
that command's modules alone. ``--help``, no arguments or an unknown name register every
command, so the listing and "No such command" read as before (``service.cli.commands``
registers every command on import, for tests and scripts that use ``app`` directly).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from service.cli.app import app

COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "alerts": ("alerts", "triage"),
    "baselines": ("baselines",),
    "coverage": ("coverage",),
    "demo": ("demo",),
    "detect": ("detect",),
    "events": ("events",),
    "ingest": ("ingest",),
    "keys": ("keys",),
    "models": ("models",),
    "normalize": ("normalize",),
    "prune": ("prune",),
    "rules": ("rules", "rule_stats"),
    "score": ("score",),
    "serve": ("serve",),
    "simulate": ("simulate",),
    "suppressions": ("suppressions",),
    "train": ("train",),
    "watch": ("watch",),
    "webhooks": ("webhooks",),
}
"""top-level command or group name -> the ``service.cli`` modules that register it and its
subcommands (tests/service/cli/test_startup.py checks it against the registrations)."""

ALL_MODULES: tuple[str, ...] = tuple(
    sorted({module for modules in COMMAND_MODULES.values() for module in modules})
)
"""in the order the help listing has always shown (the modules' alphabetical order)"""


def _import(modules: Sequence[str]) -> None:
    for module in modules:
        importlib.import_module(f"service.cli.{module}")


def register_all() -> None:
    """Register every command (help, a bad name, callers that use ``app`` directly)."""
    _import(ALL_MODULES)


def register(argv: Sequence[str]) -> None:
    """Register the command ``argv`` (the arguments after the program name) runs, or all."""
    modules = COMMAND_MODULES.get(argv[0]) if argv else None
    if modules is None:
        register_all()
        return
    _import(modules)
    # Typer makes an app of one command that command itself (``functrail detect`` would read
    # "detect" as its first argument): an app must stay a group.
    if not app.registered_groups and len(app.registered_commands) < 2:
        register_all()
