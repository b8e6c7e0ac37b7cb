"""Mini-programs: services in the wallet, their authorization codes and the payers' grants.

Revision ID: 0018_mini_programs
Revises: 0015_lookup_limits
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_mini_programs"
down_revision = "0017_mandates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mini_programs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=64), nullable=False),
        sa.Column("icon", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("subject_salt", sa.String(length=64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("approved_at_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mini_programs")),
        sa.UniqueConstraint("origin", name=op.f("uq_mini_programs_origin")),
    )
    op.create_index("ix_mini_programs_merchant", "mini_programs", ["merchant_id", "created_at_us"])
    op.create_table(
        "mini_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("mini_program_id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("redeemed_at_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_mini_codes")),
    )
    op.create_table(
        "mini_grants",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("mini_program_id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mini_grants")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_mini_grants_code_hash")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_mini_grants_token_hash")),
    )
    op.create_index(
        "ix_mini_grants_consumer",
        "mini_grants",
        ["consumer_id", "mini_program_id", "revoked_at_us"],
    )


def downgrade() -> None:
    op.drop_index("ix_mini_grants_consumer", table_name="mini_grants")
    op.drop_table("mini_grants")
    op.drop_table("mini_codes")
    op.drop_index("ix_mini_programs_merchant", table_name="mini_programs")
    op.drop_table("mini_programs")
