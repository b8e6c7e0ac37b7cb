"""Payments: consumers, merchants, keys, orders, payments, refunds, holds, idempotency, outbox.

Revision ID: 0003_payments
Revises: 0001_ledger
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_payments"
down_revision = "0001_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_transfers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("bank_reference", sa.String(length=64), server_default="", nullable=False),
        sa.Column("failure", sa.String(length=128), server_default="", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_transfers")),
    )
    with op.batch_alter_table("bank_transfers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bank_transfers_consumer", ["consumer_id", "created_at_us"], unique=False
        )

    op.create_table(
        "consumers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("login", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=64), server_default="", nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("pin_hash", sa.String(length=255), nullable=True),
        sa.Column("pin_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pin_locked_until_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("no_pin_limit", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("no_pin_daily_limit", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumers")),
        sa.UniqueConstraint("account_id", name=op.f("uq_consumers_account_id")),
        sa.UniqueConstraint("login", name=op.f("uq_consumers_login")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("status_code", sa.Integer(), server_default="0", nullable=False),
        sa.Column("response", sa.Text(), server_default="", nullable=False),
        sa.Column("locked_at_us", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "merchants",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("login", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=25), nullable=False),
        sa.Column("name_zh", sa.String(length=25), server_default="", nullable=False),
        sa.Column("city", sa.String(length=15), nullable=False),
        sa.Column("category_code", sa.String(length=4), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("fee_ppm", sa.Integer(), nullable=False),
        sa.Column("webhook_url", sa.String(length=2048), server_default="", nullable=False),
        sa.Column("webhook_secret", sa.String(length=64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
        sa.UniqueConstraint("account_id", name=op.f("uq_merchants_account_id")),
        sa.UniqueConstraint("login", name=op.f("uq_merchants_login")),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=48), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=True),
        sa.Column("consumer_id", sa.String(length=32), nullable=True),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), server_default="", nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at_us", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_due", ["delivered_at_us", "next_attempt_at_us"], unique=False
        )
        batch_op.create_index("ix_outbox_merchant", ["merchant_id", "seq"], unique=False)
        batch_op.create_index("ix_outbox_subject", ["subject", "seq"], unique=False)

    op.create_table(
        "request_nonces",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "nonce", name=op.f("pk_request_nonces")),
    )
    with op.batch_alter_table("request_nonces", schema=None) as batch_op:
        batch_op.create_index("ix_request_nonces_seen", ["seen_at_us"], unique=False)

    op.create_table(
        "webhook_attempts",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=256), server_default="", nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("attempted_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_webhook_attempts")),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_attempts_event", ["event_id", "seq"], unique=False)

    op.create_table(
        "charges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_order_no", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=True),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_charges_consumer_id_consumers")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_charges_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charges")),
        sa.UniqueConstraint(
            "merchant_id", "merchant_order_no", name=op.f("uq_charges_merchant_id")
        ),
    )
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.create_index("ix_charges_consumer", ["consumer_id", "state"], unique=False)

    op.create_table(
        "merchant_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_merchant_keys_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_keys")),
    )
    op.create_table(
        "merchant_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_merchant_sessions_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_merchant_sessions")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_order_no", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=128), server_default="", nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("notify_url", sa.String(length=2048), server_default="", nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_orders_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("merchant_id", "merchant_order_no", name=op.f("uq_orders_merchant_id")),
    )
    op.create_table(
        "payments",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("note", sa.String(length=128), server_default="", nullable=False),
        sa.Column("authorisation", sa.String(length=64), nullable=False),
        sa.Column("transfer_id", sa.String(length=64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_payments_consumer_id_consumers")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_payments_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_payments")),
        sa.UniqueConstraint("id", name=op.f("uq_payments_id")),
        sa.UniqueConstraint("order_id", name=op.f("uq_payments_order_id")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_consumer", ["consumer_id", "seq"], unique=False)
        batch_op.create_index("ix_payments_merchant", ["merchant_id", "seq"], unique=False)

    op.create_table(
        "preauths",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=True),
        sa.Column("merchant_ref", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=128), server_default="", nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("captured", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("transfer_id", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=True),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_preauths_consumer_id_consumers")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_preauths_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preauths")),
        sa.UniqueConstraint("merchant_id", "merchant_ref", name=op.f("uq_preauths_merchant_id")),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_sessions_consumer_id_consumers")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sessions")),
    )
    op.create_table(
        "hold_consents",
        sa.Column("preauth_id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("authorisation", sa.String(length=64), nullable=False),
        sa.Column("transfer_id", sa.String(length=64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_hold_consents_consumer_id_consumers")
        ),
        sa.ForeignKeyConstraint(
            ["preauth_id"], ["preauths.id"], name=op.f("fk_hold_consents_preauth_id_preauths")
        ),
        sa.PrimaryKeyConstraint("preauth_id", name=op.f("pk_hold_consents")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_hold_consents_transfer_id")),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_refund_no", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_returned", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=128), server_default="", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint(
            "merchant_id", "merchant_refund_no", name=op.f("uq_refunds_merchant_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("refunds")
    op.drop_table("hold_consents")
    op.drop_table("sessions")
    op.drop_table("preauths")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_merchant")
        batch_op.drop_index("ix_payments_consumer")

    op.drop_table("payments")
    op.drop_table("orders")
    op.drop_table("merchant_sessions")
    op.drop_table("merchant_keys")
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_index("ix_charges_consumer")

    op.drop_table("charges")
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_attempts_event")

    op.drop_table("webhook_attempts")
    with op.batch_alter_table("request_nonces", schema=None) as batch_op:
        batch_op.drop_index("ix_request_nonces_seen")

    op.drop_table("request_nonces")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_subject")
        batch_op.drop_index("ix_outbox_merchant")
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    op.drop_table("merchants")
    op.drop_table("idempotency_keys")
    op.drop_table("consumers")
    with op.batch_alter_table("bank_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_bank_transfers_consumer")

    op.drop_table("bank_transfers")
