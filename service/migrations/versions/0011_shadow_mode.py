"""shadow mode: rules and the anomaly model run without paging; their alerts marked shadow

Revision ID: 0011_shadow_mode
Revises: 0008_alert_disposition
Create Date: 2026-12-06 20:00:00

``rule_states.mode`` (``live`` / ``shadow``) beside ``enabled``; ``model_states`` holds the
anomaly model's mode the same way. ``alerts.shadow`` marks what a shadow rule raised: lists
leave those out unless asked (``include_shadow=true``), so every list-order index carries
``shadow`` after ``updated_at``: the default ``shadow = false`` is then read from the index,
and the key read of a page still needs no table row (migration 0004).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_shadow_mode"
down_revision = "0008_alert_disposition"
branch_labels = None
depends_on = None

_ORDER = ["last_seen", "id", "severity_rank", "updated_at"]
_LEADS = {
    "ix_alerts_last_seen_id_severity": [],
    "ix_alerts_status_last_seen_id": ["status"],
    "ix_alerts_rule_last_seen_id": ["rule_id"],
    "ix_alerts_detector_last_seen_id": ["detector"],
}


def upgrade() -> None:
    with op.batch_alter_table("rule_states") as batch:
        batch.add_column(
            sa.Column("mode", sa.String(16), nullable=False, server_default=sa.text("'live'"))
        )
    op.create_table(
        "model_states",
        sa.Column("detector", sa.String(64), primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False, server_default=sa.text("'live'")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(
            sa.Column("shadow", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    for name, lead in _LEADS.items():
        op.drop_index(name, table_name="alerts")
        op.create_index(name, "alerts", [*lead, *_ORDER, "shadow"], unique=False)


def downgrade() -> None:
    for name, lead in _LEADS.items():
        op.drop_index(name, table_name="alerts")
        op.create_index(name, "alerts", [*lead, *_ORDER], unique=False)
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("shadow")
    op.drop_table("model_states")
    with op.batch_alter_table("rule_states") as batch:
        batch.drop_column("mode")
