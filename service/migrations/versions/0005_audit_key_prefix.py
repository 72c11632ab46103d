"""audit rows keep the prefix of the key presented, so a 401 says which key was tried

Revision ID: 0005_audit_key_prefix
Revises: 0004_alert_list_keys
Create Date: 2026-12-06 17:00:00

A refused call had no key id (there is no key), so its row did not say which key an attacker
or a broken client tried: a leaked, revoked key in use went unseen. The prefix is the public
part of a key (``ft_<12 hex>``); the secret part is never stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_audit_key_prefix"
down_revision = "0004_alert_list_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("key_prefix", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("key_prefix")
