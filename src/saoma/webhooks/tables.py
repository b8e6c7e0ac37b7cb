"""The webhooks package's tables: the outbox of events and the attempts to deliver them.

Created by migrations, never by ``create_all``. Times are microseconds since the epoch (UTC).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from saoma.db import metadata

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


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
    Column("request_id", String(64), nullable=True),  # the API request that caused it
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
    Column("request_id", String(64), nullable=True),  # sent as Saoma-Request-Id
)


Index("ix_webhook_attempts_event", webhook_attempts.c.event_id, webhook_attempts.c.seq)
