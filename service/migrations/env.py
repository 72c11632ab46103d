"""Alembic environment: runs online against the connection handed in by ``run_upgrade``."""

from __future__ import annotations

from alembic import context

from service.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("functrail migrations run through service.db.upgrade(), not alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
