"""The promotions tables. Created by migration 0004_promotions."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table

from saoma.db import metadata

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=True),  # None: all
    Column("funder", String(32), nullable=False),  # a merchant id, or "platform"
    Column("funder_account_id", BigInteger, nullable=False),
    Column("budget_account_id", BigInteger, nullable=False, unique=True),
    Column("budget", BigInteger, nullable=False),  # minor units put in at creation
    Column("currency", String(3), nullable=False),
    Column("amount_off", BigInteger, nullable=False, server_default="0"),
    Column("percent_ppm", Integer, nullable=False, server_default="0"),
    Column("cap", BigInteger, nullable=False, server_default="0"),
    Column("min_spend", BigInteger, nullable=False, server_default="0"),
    Column("random_min", BigInteger, nullable=False, server_default="0"),
    Column("random_max", BigInteger, nullable=False, server_default="0"),
    Column("first_payment_only", Boolean, nullable=False, server_default="0"),
    Column("window_start_min", Integer, nullable=False, server_default="0"),
    Column("window_end_min", Integer, nullable=False, server_default="1440"),
    Column("starts_at_us", BigInteger, nullable=False),
    Column("ends_at_us", BigInteger, nullable=False),
    Column("per_consumer_per_day", Integer, nullable=False, server_default="0"),
    Column("per_consumer_total", Integer, nullable=False, server_default="0"),
    Column("total_count", Integer, nullable=False, server_default="0"),
    Column("needs_coupon", Boolean, nullable=False, server_default="0"),
    Column("state", String(8), nullable=False),  # active | paused | ended
    Column("used_count", Integer, nullable=False, server_default="0"),
    Column("used_amount", BigInteger, nullable=False, server_default="0"),
    Column("returned", BigInteger, nullable=False, server_default="0"),  # budget sent back at end
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)
Index("ix_campaigns_merchant", campaigns.c.merchant_id, campaigns.c.state)

campaign_usage = Table(
    "campaign_usage",
    metadata,
    # The payer first: one consumer's counts sit together for the preview's single lookup.
    Column("consumer_id", String(32), primary_key=True),
    Column("campaign_id", String(32), primary_key=True),
    Column("period", String(10), primary_key=True),  # a Shenzhen date "2026-11-24", or "all"
    Column("count", Integer, nullable=False),
)

coupons = Table(
    "coupons",
    metadata,
    Column("consumer_id", String(32), ForeignKey("consumers.id"), primary_key=True),
    Column("campaign_id", String(32), ForeignKey("campaigns.id"), primary_key=True),
    Column("state", String(16), nullable=False),  # collected | used
    Column("collected_at_us", BigInteger, nullable=False),
)

offers = Table(
    "offers",
    metadata,
    Column("id", String(32), primary_key=True),  # the offer's nonce: recorded when used
    Column("campaign_id", String(32), ForeignKey("campaigns.id"), nullable=False),
    Column("consumer_id", String(32), nullable=False),
    Column("merchant_id", String(32), nullable=False),
    Column("subject", String(64), nullable=False),  # the order id, or "static:<amount>"
    Column("amount", BigInteger, nullable=False),
    Column("discount", BigInteger, nullable=False),
    Column("state", String(8), nullable=False),  # quoted | used
    Column("expires_at_us", BigInteger, nullable=False),
)

platform_secrets = Table(
    "platform_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),  # shared by every process on this database
)
