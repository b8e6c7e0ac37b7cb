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
    String,
    Table,
    Text,
    UniqueConstraint,
)

from saoma.db import metadata

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


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
# A settlement statement finds each line's payment by its ledger transfer (migration 0010).
Index("ix_payments_transfer", payments.c.transfer_id)

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
