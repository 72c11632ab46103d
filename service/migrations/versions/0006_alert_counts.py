"""alert counts by (severity, status), kept by the writers, read by /metrics

Revision ID: 0006_alert_counts
Revises: 0005_audit_key_prefix
Create Date: 2026-12-06 17:30:00

/metrics grouped every alert by severity and status on each scrape (~1 s at 1M alerts, from
any unauthenticated caller). The writers now keep the counts (service/alerts/counts.py); this
creates the table and fills it once from the alerts already stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_alert_counts"
down_revision = "0005_audit_key_prefix"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_counts",
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("severity", "status"),
    )
    op.execute(
        "INSERT INTO alert_counts (severity, status, n) "
        "SELECT severity, status, count(*) FROM alerts GROUP BY severity, status"
    )


def downgrade() -> None:
    op.drop_table("alert_counts")
