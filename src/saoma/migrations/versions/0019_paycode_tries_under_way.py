"""Payment codes' wrong-code windows count the codes being checked apart from the wrong ones.

Revision ID: 0019_paycode_tries_under_way
Revises: 0018_mini_programs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_paycode_tries_under_way"
down_revision = "0018_mini_programs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paycode_failures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("pending_since_us", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("paycode_failures", schema=None) as batch_op:
        batch_op.drop_column("pending_since_us")
        batch_op.drop_column("pending")
