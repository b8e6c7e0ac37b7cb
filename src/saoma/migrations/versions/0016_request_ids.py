"""The API request behind an outbox event, a delivery attempt and a bank instruction; pending
bank transfers found by their state.

Revision ID: 0016_request_ids
Revises: 0015_lookup_limits
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_request_ids"
down_revision = "0015_lookup_limits"
branch_labels = None
depends_on = None

TABLES = ("outbox", "webhook_attempts", "bank_transfers", "payouts")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("request_id", sa.String(64), nullable=True))
    op.create_index("ix_bank_transfers_state", "bank_transfers", ["state"])


def downgrade() -> None:
    op.drop_index("ix_bank_transfers_state", table_name="bank_transfers")
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("request_id")
