"""Wrong passwords counted per account, per account and address, and per address: passwords
cannot be guessed at speed.

Revision ID: 0023_sign_in_tries
Revises: 0022_paycode_used_for
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_sign_in_tries"
down_revision = "0022_paycode_used_for"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_tries",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start_us", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("sign_in_tries_window", "sign_in_tries", ["window_start_us"])


def downgrade() -> None:
    op.drop_index("sign_in_tries_window", table_name="sign_in_tries")
    op.drop_table("sign_in_tries")
