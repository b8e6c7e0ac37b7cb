"""Promotions: campaigns with budget accounts, usage counts, coupons, used offers, subsidies.

Revision ID: 0004_promotions
Revises: 0003_payments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_promotions"
down_revision = "0003_payments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_usage",
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "consumer_id", "campaign_id", "period", name=op.f("pk_campaign_usage")
        ),
    )
    op.create_table(
        "platform_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_platform_secrets")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=True),
        sa.Column("funder", sa.String(length=32), nullable=False),
        sa.Column("funder_account_id", sa.BigInteger(), nullable=False),
        sa.Column("budget_account_id", sa.BigInteger(), nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_off", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("percent_ppm", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cap", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("min_spend", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("random_min", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("random_max", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_payment_only", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("window_start_min", sa.Integer(), server_default="0", nullable=False),
        sa.Column("window_end_min", sa.Integer(), server_default="1440", nullable=False),
        sa.Column("starts_at_us", sa.BigInteger(), nullable=False),
        sa.Column("ends_at_us", sa.BigInteger(), nullable=False),
        sa.Column("per_consumer_per_day", sa.Integer(), server_default="0", nullable=False),
        sa.Column("per_consumer_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("needs_coupon", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("used_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("used_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("returned", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_campaigns_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("budget_account_id", name=op.f("uq_campaigns_budget_account_id")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_campaigns_merchant", ["merchant_id", "state"], unique=False)

    op.create_table(
        "coupons",
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("collected_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_coupons_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_coupons_consumer_id_consumers")
        ),
        sa.PrimaryKeyConstraint("consumer_id", "campaign_id", name=op.f("pk_coupons")),
    )
    op.create_table(
        "offers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_offers_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subsidy", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("campaign_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("subsidy_refunded", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            "ix_payments_consumer_merchant", ["consumer_id", "merchant_id"], unique=False
        )

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subsidy_returned", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_column("subsidy_returned")

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_consumer_merchant")
        batch_op.drop_column("subsidy_refunded")
        batch_op.drop_column("campaign_id")
        batch_op.drop_column("subsidy")

    op.drop_table("offers")
    op.drop_table("coupons")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_merchant")

    op.drop_table("campaigns")
    op.drop_table("platform_secrets")
    op.drop_table("campaign_usage")
