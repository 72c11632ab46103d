"""Webhook store fixtures: a migrated database on SQLite and on the PostgreSQL at 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from pipelines.settings import Settings
from service.db import Database, open_database

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def db(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Database]:
    """A database migrated to head (webhook tables included), dropped after the test."""
    settings = settings.model_copy(update={"webhook_allow_private": True})
    if request.param == "sqlite":
        database = open_database(settings)
        yield database
        database.dispose()
        return
    schema = f"t_webhooks_{uuid.uuid4().hex[:12]}"
    database = open_database(settings.model_copy(update={"database_url": PG_URL}), schema=schema)
    try:
        yield database
    finally:
        database.dispose()
        from sqlalchemy import create_engine

        engine = create_engine(PG_URL)
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    """Settings that let deliveries reach the receivers the tests start on 127.0.0.1."""
    return settings.model_copy(update={"webhook_allow_private": True})
