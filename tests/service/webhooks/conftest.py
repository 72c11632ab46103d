"""Webhook fixtures over the store's backends (``fresh_database``: SQLite, and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.settings import Settings
from service.db import Database


@pytest.fixture
def db(fresh_database: tuple[Database, Path]) -> Database:
    """A migrated database of its own (webhook tables included): SQLite, and PostgreSQL."""
    return fresh_database[0]


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    """Settings that let deliveries reach the receivers the tests start on 127.0.0.1."""
    return settings.model_copy(update={"webhook_allow_private": True})
