"""The payments service's tables: parties, orders, payments, refunds, holds, idempotency, outbox.

Created by migration 0003_payments, never by ``create_all``. Money columns are integer minor
units; times are microseconds since the epoch (UTC), like the ledger's.
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
    Text,
    UniqueConstraint,
)

from saoma.db import metadata

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

consumers = Table(
    "consumers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("login", String(254), nullable=False, unique=True),  # phone (E.164) or e-mail
    Column("display_name", String(64), nullable=False, server_default=""),
    Column("password_hash", String(255), nullable=False),
    Column("pin_hash", String(255), nullable=True),
    Column("pin_failures", Integer, nullable=False, server_default="0"),
    Column("pin_locked_until_us", BigInteger, nullable=False, server_default="0"),
    Column("pin_pending", Integer, nullable=False, server_default="0"),  # tries being checked
    Column("pin_pending_since_us", BigInteger, nullable=False, server_default="0"),
    Column("no_pin_limit", BigInteger, nullable=False, server_default="0"),  # per payment
    Column("no_pin_daily_limit", BigInteger, nullable=False, server_default="0"),
    # Today's no-PIN spending: the day (YYYYMMDD, local) and what went without the PIN on it.
    Column("no_pin_day", Integer, nullable=False, server_default="0"),
    Column("no_pin_spent", BigInteger, nullable=False, server_default="0"),
    # Today's money sent to people (transfers, red packets): the day and the amount.
    Column("p2p_day", Integer, nullable=False, server_default="0"),
    Column("p2p_sent", BigInteger, nullable=False, server_default="0"),
    Column("account_id", BigInteger, nullable=False, unique=True),  # the wallet in the ledger
    Column("currency", String(3), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the bearer token
    Column("consumer_id", String(32), ForeignKey("consumers.id"), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
)

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

orders = Table(
    "orders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("merchant_order_no", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("description", String(128), nullable=False, server_default=""),
    Column("state", String(16), nullable=False),  # created | paid | closed | expired
    Column("expires_at_us", BigInteger, nullable=False),
    Column("notify_url", String(2048), nullable=False, server_default=""),
    Column("payment_id", String(32), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    UniqueConstraint("merchant_id", "merchant_order_no"),
)

payments = Table(
    "payments",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("consumer_id", String(32), ForeignKey("consumers.id"), nullable=False),
    Column("order_id", String(32), nullable=True, unique=True),
    Column("kind", String(16), nullable=False),  # order | static | paycode | capture
    Column("amount", BigInteger, nullable=False),  # gross, minor units
    Column("fee", BigInteger, nullable=False),
    Column("refunded", BigInteger, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False),
    Column("note", String(128), nullable=False, server_default=""),
    # pin:<check id> | no_pin_limit:<code> | hold:<id>
    Column("authorisation", String(64), nullable=False),
    Column("transfer_id", String(64), nullable=False),
    Column("subsidy", BigInteger, nullable=False, server_default="0"),  # paid by a campaign
    Column("campaign_id", String(32), nullable=True),
    Column("subsidy_refunded", BigInteger, nullable=False, server_default="0"),
    Column("created_at_us", BigInteger, nullable=False),
)
Index("ix_payments_merchant", payments.c.merchant_id, payments.c.seq)
Index("ix_payments_consumer", payments.c.consumer_id, payments.c.seq)
Index("ix_payments_consumer_merchant", payments.c.consumer_id, payments.c.merchant_id)

refunds = Table(
    "refunds",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("payment_id", String(32), ForeignKey("payments.id"), nullable=False),
    Column("merchant_id", String(32), nullable=False),
    Column("merchant_refund_no", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("fee_returned", BigInteger, nullable=False),
    Column("subsidy_returned", BigInteger, nullable=False, server_default="0"),
    Column("reason", String(128), nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("merchant_id", "merchant_refund_no"),
)
Index("ix_refunds_merchant", refunds.c.merchant_id, refunds.c.created_at_us, refunds.c.id)
Index("ix_refunds_payment", refunds.c.payment_id, refunds.c.created_at_us)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(40), primary_key=True),  # the caller: consumer or merchant id
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(8), nullable=False),  # running | done
    Column("status_code", Integer, nullable=False, server_default="0"),
    Column("response", Text, nullable=False, server_default=""),
    Column("locked_at_us", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),  # the webhook-id
    Column("type", String(48), nullable=False),  # payment.succeeded, refund.succeeded, …
    Column("merchant_id", String(32), nullable=True),
    Column("consumer_id", String(32), nullable=True),
    Column("subject", String(32), nullable=False),  # the order or payment it is about
    Column("url", String(2048), nullable=False, server_default=""),  # where to deliver; "" = none
    Column("payload", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("delivered_at_us", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at_us", BigInteger, nullable=False),
)
Index("ix_outbox_due", outbox.c.delivered_at_us, outbox.c.next_attempt_at_us)
Index("ix_outbox_merchant", outbox.c.merchant_id, outbox.c.seq)
Index("ix_outbox_subject", outbox.c.subject, outbox.c.seq)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("event_id", String(32), nullable=False),
    Column("merchant_id", String(32), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("status_code", Integer, nullable=False),  # 0: no response
    Column("error", String(256), nullable=False, server_default=""),
    Column("duration_ms", Integer, nullable=False),
    Column("attempted_at_us", BigInteger, nullable=False),
)
Index("ix_webhook_attempts_event", webhook_attempts.c.event_id, webhook_attempts.c.seq)

bank_transfers = Table(
    "bank_transfers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("consumer_id", String(32), nullable=False),
    Column("direction", String(8), nullable=False),  # topup | withdraw
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(12), nullable=False),  # pending | succeeded | failed
    Column("bank_reference", String(64), nullable=False, server_default=""),
    Column("failure", String(128), nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)
Index("ix_bank_transfers_consumer", bank_transfers.c.consumer_id, bank_transfers.c.created_at_us)

preauths = Table(
    "preauths",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("consumer_id", String(32), ForeignKey("consumers.id"), nullable=True),  # once consented
    Column("merchant_ref", String(64), nullable=False),
    Column("description", String(128), nullable=False, server_default=""),
    Column("amount", BigInteger, nullable=False),
    Column("captured", BigInteger, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False),
    Column("state", String(12), nullable=False),  # requested | held | captured | voided | expired
    Column("transfer_id", String(64), nullable=False),  # the pending transfer in the ledger
    Column("payment_id", String(32), nullable=True),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("merchant_id", "merchant_ref"),
)
Index("ix_preauths_consumer", preauths.c.consumer_id, preauths.c.created_at_us, preauths.c.id)
Index("ix_preauths_merchant", preauths.c.merchant_id, preauths.c.created_at_us, preauths.c.id)

charges = Table(
    "charges",
    metadata,
    Column("id", String(32), primary_key=True),  # a terminal's payment-code charge
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("consumer_id", String(32), ForeignKey("consumers.id"), nullable=False),
    Column("merchant_order_no", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column(
        "state", String(20), nullable=False
    ),  # waiting_for_payer | succeeded | refused | expired
    Column("payment_id", String(32), nullable=True),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    # sha256 of the payer's code, to tell a retry of the order number from a reuse
    Column("code_hash", String(64), nullable=True),
    UniqueConstraint("merchant_id", "merchant_order_no"),
)
Index("ix_charges_consumer", charges.c.consumer_id, charges.c.state)

hold_consents = Table(
    "hold_consents",
    metadata,
    Column("preauth_id", String(32), ForeignKey("preauths.id"), primary_key=True),
    Column("consumer_id", String(32), ForeignKey("consumers.id"), nullable=False),
    Column("authorisation", String(64), nullable=False),  # pin:<check>
    Column("transfer_id", String(64), nullable=False, unique=True),
    Column("created_at_us", BigInteger, nullable=False),
)
