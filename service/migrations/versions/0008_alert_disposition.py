"""alert disposition: the analyst's verdict on resolve

Revision ID: 0008_alert_disposition
Revises: 0007_key_scopes
Create Date: 2026-12-06 20:00:00

``PATCH /v1/alerts/{id}`` takes ``disposition`` (``true_positive``, ``false_positive``,
``benign``) when resolving (DESIGN.md). The alert keeps the current verdict; the triage history
keeps each one given, so a reopened alert's old verdict is not lost.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_alert_disposition"
down_revision = "0007_key_scopes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("alerts", "alert_triage"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("disposition", sa.String(16), nullable=True))


def downgrade() -> None:
    for table in ("alerts", "alert_triage"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("disposition")
