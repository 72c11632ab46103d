"""Alembic migrations of the alert store, configured in code (no alembic.ini to ship).

One linear history: a new area (webhooks, ...) adds a revision whose ``down_revision`` is
the current head. ``alembic_config()`` also serves ``alembic revision --autogenerate`` from a
Python shell when writing one.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

HERE = Path(__file__).parent


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration, bound to ``connection`` when given."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


def run_upgrade(connection: Connection, revision: str = "head") -> None:
    """Upgrade the database behind ``connection`` (inside the caller's transaction)."""
    command.upgrade(alembic_config(connection), revision)


def head_revision() -> str | None:
    """The newest revision in the scripts (for readiness checks)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
