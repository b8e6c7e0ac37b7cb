"""A payment code's handle records what used it, so the same charge sent again may use it again.

Revision ID: 0022_paycode_used_for
Revises: 0021_outbox_due
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_paycode_used_for"
down_revision = "0021_outbox_due"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paycode_handles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("used_for", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("paycode_handles", schema=None) as batch_op:
        batch_op.drop_column("used_for")
