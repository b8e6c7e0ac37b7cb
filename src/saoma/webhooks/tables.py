"""The webhooks package's tables: the outbox of events, the events still to deliver, and the
attempts to deliver them.

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
    # The three below tell what became of the event (updated when an attempt is recorded); no
    # index covers them, so on PostgreSQL that update is a HOT one, in place. The outbox's pages
    # are filled to 70 % there (migration 0021) to leave it the room.
    Column("delivered_at_us", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at_us", BigInteger, nullable=False),
    Column("request_id", String(64), nullable=True),  # the API request that caused it
)


Index("ix_outbox_merchant", outbox.c.merchant_id, outbox.c.seq)


Index("ix_outbox_subject", outbox.c.subject, outbox.c.seq)


# The webhooks still to deliver (or given up: a replay revives them), one row per outbox event,
# deleted once it is delivered. The dispatcher finds due events and claims them here: a claim
# sets the lease, which no index covers, so it is a HOT update of a small table's row rather than
# a new version of the outbox's row in each of its indexes.
outbox_due = Table(
    "outbox_due",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=False),  # the outbox event's seq
    Column("subject", String(32), nullable=False),  # a subject's events go in their seq order
    Column("next_attempt_at_us", BigInteger, nullable=False),
    Column("leased_until_us", BigInteger, nullable=False, server_default="0"),  # being sent
)


Index("ix_outbox_due_next", outbox_due.c.next_attempt_at_us)


Index("ix_outbox_due_subject", outbox_due.c.subject, outbox_due.c.seq)


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
