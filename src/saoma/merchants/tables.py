"""The merchants package's tables: merchants, their sessions, API keys and signed-request nonces.

Created by migrations, never by ``create_all``. Times are microseconds since the epoch (UTC).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)

from saoma.db import metadata

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


merchants = Table(
    "merchants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("login", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("name", String(25), nullable=False),  # EMVCo merchant name: 25 characters at most
    Column("name_zh", String(25), nullable=False, server_default=""),
    Column("city", String(15), nullable=False),
    Column("category_code", String(4), nullable=False),
    Column("account_id", BigInteger, nullable=False, unique=True),  # settlement account
    Column("currency", String(3), nullable=False),
    Column("fee_ppm", Integer, nullable=False),
    Column("webhook_url", String(2048), nullable=False, server_default=""),
    Column("webhook_secret", String(64), nullable=False),  # whsec_… (Standard Webhooks)
    # After a rotation the previous secret also signs deliveries for a day (migration 0008).
    Column("webhook_secret_previous", String(64), nullable=True),
    Column("webhook_secret_rotated_at_us", BigInteger, nullable=True),
    # The manager PIN: refunds from a password session need it (migration 0008).
    Column("manager_pin_hash", String(255), nullable=True),
    Column("manager_pin_failures", Integer, nullable=False, server_default="0"),
    Column("manager_pin_locked_until_us", BigInteger, nullable=False, server_default="0"),
    Column("created_at_us", BigInteger, nullable=False),
)


merchant_sessions = Table(
    "merchant_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
)


merchant_keys = Table(
    "merchant_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column(
        "public_key", LargeBinary(32), nullable=False
    ),  # Ed25519; the private key never comes here
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=True),  # set when rotated out
)


request_nonces = Table(
    "request_nonces",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_at_us", BigInteger, nullable=False),
)


Index("ix_request_nonces_seen", request_nonces.c.seen_at_us)
