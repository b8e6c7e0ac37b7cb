"""Money out to merchants: bank accounts, settlement terms, settlements and their lines,
payouts, rolling reserves, split agreements and splits, bank statements and reconciliation breaks.

Revision ID: 0010_settlement
Revises: 0009_coupon_state
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_settlement"
down_revision = "0009_coupon_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_transfer", ["transfer_id"], unique=False)
    op.create_table(
        "bank_statements",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("statement_date", sa.String(length=10), nullable=False),
        sa.Column("file_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("imported_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_statements")),
    )
    op.create_table(
        "merchant_bank_accounts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("holder_name", sa.String(length=70), nullable=False),
        sa.Column("account_number", sa.String(length=34), nullable=False),
        sa.Column("bank_name", sa.String(length=70), server_default="", nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("failure", sa.String(length=128), server_default="", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_bank_accounts")),
    )
    with op.batch_alter_table("merchant_bank_accounts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_merchant_bank_accounts_merchant", ["merchant_id", "created_at_us"], unique=False
        )

    op.create_table(
        "payment_splits",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=False),
        sa.Column("agreement_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("receiver_id", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("returned", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_splits")),
        sa.UniqueConstraint("payment_id", "agreement_id", name="uq_payment_splits_agreement"),
    )
    with op.batch_alter_table("payment_splits", schema=None) as batch_op:
        batch_op.create_index("ix_payment_splits_payment", ["payment_id"], unique=False)

    op.create_table(
        "payouts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("settlement_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("bank_account_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("bank_reference", sa.String(length=64), server_default="", nullable=False),
        sa.Column("failure", sa.String(length=128), server_default="", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint("settlement_id", "attempt", name="uq_payouts_attempt"),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.create_index("ix_payouts_state", ["state", "updated_at_us"], unique=False)

    op.create_table(
        "recon_breaks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("statement_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("expected", sa.BigInteger(), nullable=True),
        sa.Column("reported", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_breaks")),
        sa.UniqueConstraint("statement_id", "kind", "reference", name="uq_recon_breaks_line"),
    )
    with op.batch_alter_table("recon_breaks", schema=None) as batch_op:
        batch_op.create_index("ix_recon_breaks_state", ["state", "created_at_us"], unique=False)

    op.create_table(
        "reserves",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("settlement_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("release_after_us", sa.BigInteger(), nullable=False),
        sa.Column("released_transfer_id", sa.String(length=64), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reserves")),
    )
    with op.batch_alter_table("reserves", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reserves_merchant", ["merchant_id", "release_after_us"], unique=False
        )

    op.create_table(
        "settlement_lines",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("settlement_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("ref", sa.String(length=128), server_default="", nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source", "merchant_id", name=op.f("pk_settlement_lines")),
    )
    with op.batch_alter_table("settlement_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_settlement_lines_settlement", ["settlement_id", "at_us"], unique=False
        )

    op.create_table(
        "settlement_terms",
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("schedule", sa.String(length=8), nullable=False),
        sa.Column("cutoff_hour", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reserve_ppm", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reserve_days", sa.Integer(), server_default="0", nullable=False),
        sa.Column("overdraft_limit", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("overdraft_granted", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("settled_through_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_settlement_terms")),
    )
    op.create_table(
        "settlements",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("business_date", sa.String(length=10), nullable=False),
        sa.Column("period_start_us", sa.BigInteger(), nullable=False),
        sa.Column("period_end_us", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Integer(), server_default="0", nullable=False),
        sa.Column("gross", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fees", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("splits", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reserve", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("other", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("carried_in", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("net", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("payout", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("carried_out", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("bank_account_id", sa.String(length=32), nullable=True),
        sa.Column("instruction_id", sa.String(length=40), nullable=True),
        sa.Column("bank_reference", sa.String(length=64), server_default="", nullable=False),
        sa.Column("failure", sa.String(length=128), server_default="", nullable=False),
        sa.Column("consumed_by", sa.String(length=32), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.Column("paid_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlements")),
        sa.UniqueConstraint("merchant_id", "kind", "period_end_us", name="uq_settlements_period"),
    )
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_settlements_merchant", ["merchant_id", "period_end_us"], unique=False
        )
        batch_op.create_index("ix_settlements_state", ["state", "updated_at_us"], unique=False)

    op.create_table(
        "split_agreements",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("receiver_id", sa.String(length=32), nullable=False),
        sa.Column("share_ppm", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fixed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cap", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("standing", sa.Integer(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_split_agreements")),
    )
    with op.batch_alter_table("split_agreements", schema=None) as batch_op:
        batch_op.create_index("ix_split_agreements_merchant", ["merchant_id"], unique=False)
        batch_op.create_index("ix_split_agreements_receiver", ["receiver_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_transfer")
    with op.batch_alter_table("split_agreements", schema=None) as batch_op:
        batch_op.drop_index("ix_split_agreements_receiver")
        batch_op.drop_index("ix_split_agreements_merchant")

    op.drop_table("split_agreements")
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.drop_index("ix_settlements_state")
        batch_op.drop_index("ix_settlements_merchant")

    op.drop_table("settlements")
    op.drop_table("settlement_terms")
    with op.batch_alter_table("settlement_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_settlement_lines_settlement")

    op.drop_table("settlement_lines")
    with op.batch_alter_table("reserves", schema=None) as batch_op:
        batch_op.drop_index("ix_reserves_merchant")

    op.drop_table("reserves")
    with op.batch_alter_table("recon_breaks", schema=None) as batch_op:
        batch_op.drop_index("ix_recon_breaks_state")

    op.drop_table("recon_breaks")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index("ix_payouts_state")

    op.drop_table("payouts")
    with op.batch_alter_table("payment_splits", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_splits_payment")

    op.drop_table("payment_splits")
    with op.batch_alter_table("merchant_bank_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_merchant_bank_accounts_merchant")

    op.drop_table("merchant_bank_accounts")
    op.drop_table("bank_statements")
