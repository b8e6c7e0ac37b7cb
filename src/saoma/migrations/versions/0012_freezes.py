"""Freezes of wallets and merchants.

Revision ID: 0012_freezes
Revises: 0011_operators
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_freezes"
down_revision = "0011_operators"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "freezes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("reason_shown", sa.String(length=200), nullable=False),
        sa.Column("appeal", sa.String(length=300), nullable=False),
        sa.Column("frozen_by", sa.String(length=32), nullable=False),
        sa.Column("by_role", sa.String(length=16), nullable=False),
        sa.Column("frozen_at_us", sa.BigInteger(), nullable=False),
        sa.Column("lifted_at_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("lifted_by", sa.String(length=32), server_default="", nullable=False),
        sa.Column("lift_note", sa.String(length=200), server_default="", nullable=False),
        sa.Column("since_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("until_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freezes")),
    )
    op.create_index(
        "uq_freezes_active_subject",
        "freezes",
        ["subject_id"],
        unique=True,
        sqlite_where=sa.text("lifted_at_us = 0"),
        postgresql_where=sa.text("lifted_at_us = 0"),
    )
    op.create_index(
        "ix_freezes_active_account",
        "freezes",
        ["account_id"],
        unique=False,
        sqlite_where=sa.text("lifted_at_us = 0"),
        postgresql_where=sa.text("lifted_at_us = 0"),
    )
    op.create_index("ix_freezes_subject", "freezes", ["subject_id", "frozen_at_us"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_freezes_subject", table_name="freezes")
    op.drop_index("ix_freezes_active_account", table_name="freezes")
    op.drop_index("uq_freezes_active_subject", table_name="freezes")
    op.drop_table("freezes")
