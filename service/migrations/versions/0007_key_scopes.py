"""ingest keys scoped to providers and accounts

Revision ID: 0007_key_scopes
Revises: 0006_alert_counts
Create Date: 2026-12-06 18:30:00

``functrail keys create --role ingest --scope aws:123456789012 --scope gcp:my-project``: a push
with a record outside the key's scopes is a 403 (DESIGN.md, Provenance). Null: unscoped (every
key made before, and keys made without --scope).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_key_scopes"
down_revision = "0006_alert_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("scopes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("scopes")
