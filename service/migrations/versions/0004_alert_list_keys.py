"""alert list indexes carry updated_at: the list's key read walks the index alone

Revision ID: 0004_alert_list_keys
Revises: 0003_alert_list_indexes
Create Date: 2026-11-29 14:55:00

The API's list first reads each page's (id, last_seen, updated_at) and renders only the alerts
it does not keep already (service/alerts/listing.py). With updated_at in the list-order
indexes that read needs no table row: on PostgreSQL an index-only scan instead of 51 heap
fetches per page. updated_at trails id, which is unique, so the order is unchanged.
"""

from __future__ import annotations

from alembic import op

revision = "0004_alert_list_keys"
down_revision = "0003_alert_list_indexes"
branch_labels = None
depends_on = None

_ORDER = ["last_seen", "id", "severity_rank"]
_LEADS = {
    "ix_alerts_last_seen_id_severity": [],
    "ix_alerts_status_last_seen_id": ["status"],
    "ix_alerts_rule_last_seen_id": ["rule_id"],
    "ix_alerts_detector_last_seen_id": ["detector"],
}


def upgrade() -> None:
    for name, lead in _LEADS.items():
        op.drop_index(name, table_name="alerts")
        op.create_index(name, "alerts", [*lead, *_ORDER, "updated_at"], unique=False)


def downgrade() -> None:
    for name, lead in _LEADS.items():
        op.drop_index(name, table_name="alerts")
        op.create_index(name, "alerts", [*lead, *_ORDER], unique=False)
