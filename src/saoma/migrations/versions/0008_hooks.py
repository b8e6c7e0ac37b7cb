"""Merchants: the previous webhook secret during a rotation, and the manager PIN.

Revision ID: 0008_hooks
Revises: 0007_ledger_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_hooks"
down_revision = "0007_ledger_keys"
branch_labels = None
depends_on = None

COLUMNS = (
    "webhook_secret_previous",
    "webhook_secret_rotated_at_us",
    "manager_pin_hash",
    "manager_pin_failures",
    "manager_pin_locked_until_us",
)


def upgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_secret_previous", sa.String(64), nullable=True))
        batch_op.add_column(
            sa.Column("webhook_secret_rotated_at_us", sa.BigInteger(), nullable=True)
        )
        batch_op.add_column(sa.Column("manager_pin_hash", sa.String(255), nullable=True))
        batch_op.add_column(
            sa.Column("manager_pin_failures", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "manager_pin_locked_until_us", sa.BigInteger(), server_default="0", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
