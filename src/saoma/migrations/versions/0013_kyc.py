"""Merchant onboarding (KYC): business details, the owner's encrypted ID number, the state.

Every merchant signed up before onboarding existed was already taking payments: each gets an
``approved`` row, so nothing changes for it. Merchants signed up later start ``unverified`` (no
row) and take at most the pending daily limit until risk approves their details.

Revision ID: 0013_kyc
Revises: 0012_freezes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_kyc"
down_revision = "0012_freezes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merchant_kyc",
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("legal_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("licence_number", sa.String(length=32), server_default="", nullable=False),
        sa.Column("category", sa.String(length=4), server_default="", nullable=False),
        sa.Column("owner_id_cipher", sa.String(length=255), server_default="", nullable=False),
        sa.Column("owner_id_last4", sa.String(length=4), server_default="", nullable=False),
        sa.Column("message", sa.String(length=500), server_default="", nullable=False),
        sa.Column("submitted_at_us", sa.BigInteger(), nullable=True),
        sa.Column("decided_at_us", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.String(length=32), server_default="", nullable=False),
        sa.Column("decided_role", sa.String(length=16), server_default="", nullable=False),
        sa.Column("day", sa.Integer(), server_default="0", nullable=False),
        sa.Column("taken", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "state IN ('unverified', 'pending', 'approved', 'rejected')",
            name=op.f("ck_merchant_kyc_state_known"),
        ),
        sa.CheckConstraint("taken >= 0", name=op.f("ck_merchant_kyc_taken_not_negative")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_merchant_kyc_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_merchant_kyc")),
    )
    op.create_index(
        "ix_merchant_kyc_state", "merchant_kyc", ["state", "submitted_at_us"], unique=False
    )
    op.execute(
        "INSERT INTO merchant_kyc (merchant_id, state, decided_at_us, decided_by, decided_role)"
        " SELECT id, 'approved', created_at_us, 'migration', 'system' FROM merchants"
    )


def downgrade() -> None:
    op.drop_index("ix_merchant_kyc_state", table_name="merchant_kyc")
    op.drop_table("merchant_kyc")
