"""Mandates: recurring debits the payer agreed to, their pre-debit notices and their debits.

Revision ID: 0017_mandates
Revises: 0015_lookup_limits
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_mandates"
down_revision = "0016_request_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mandates",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("merchant_id", sa.String(32), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("consumer_id", sa.String(32), sa.ForeignKey("consumers.id"), nullable=False),
        sa.Column("merchant_mandate_no", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(128), nullable=False),
        sa.Column("amount_max", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("frequency", sa.String(8), nullable=False),
        sa.Column("start_on", sa.String(10), nullable=False),
        sa.Column("end_on", sa.String(10), nullable=False),
        sa.Column("starts_at_us", sa.BigInteger(), nullable=False),
        sa.Column("ends_at_us", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("agreement", sa.String(64), nullable=False, server_default=""),
        sa.Column("last_period", sa.BigInteger(), nullable=True),
        sa.Column("last_debit_at_us", sa.BigInteger(), nullable=True),
        sa.Column("debits", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("debits_at_revocation", sa.BigInteger(), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("agreed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at_us", sa.BigInteger(), nullable=True),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("merchant_id", "merchant_mandate_no"),
        sa.CheckConstraint("amount_max > 0", name="mandate_amount_max_positive"),
        sa.CheckConstraint("ends_at_us > starts_at_us", name="mandate_period_not_empty"),
    )
    op.create_index("ix_mandates_consumer", "mandates", ["consumer_id", "created_at_us"])
    op.create_table(
        "mandate_notices",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("mandate_id", sa.String(32), sa.ForeignKey("mandates.id"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("due_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("objected_at_us", sa.BigInteger(), nullable=True),
        sa.Column("debit_id", sa.String(32), nullable=True),
        sa.CheckConstraint("amount > 0", name="mandate_notice_amount_positive"),
    )
    op.create_index(
        "ix_mandate_notices_mandate", "mandate_notices", ["mandate_id", "created_at_us"]
    )
    op.create_table(
        "mandate_debits",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("mandate_id", sa.String(32), sa.ForeignKey("mandates.id"), nullable=False),
        sa.Column("notice_id", sa.String(32), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False, server_default=""),
        sa.Column("payment_id", sa.String(32), nullable=True, unique=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_mandate_debits_mandate", "mandate_debits", ["mandate_id", "created_at_us"])


def downgrade() -> None:
    op.drop_index("ix_mandate_debits_mandate", table_name="mandate_debits")
    op.drop_table("mandate_debits")
    op.drop_index("ix_mandate_notices_mandate", table_name="mandate_notices")
    op.drop_table("mandate_notices")
    op.drop_index("ix_mandates_consumer", table_name="mandates")
    op.drop_table("mandates")
