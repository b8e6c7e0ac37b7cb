"""Recipient lookups counted per consumer: who has a wallet is not for guessing in bulk.

Revision ID: 0015_lookup_limits
Revises: 0014_disputes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_lookup_limits"
down_revision = "0014_disputes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookup_limits",
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("window_start_us", sa.BigInteger(), nullable=False),
        sa.Column("lookups", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("consumer_id", name=op.f("pk_lookup_limits")),
    )


def downgrade() -> None:
    op.drop_table("lookup_limits")
