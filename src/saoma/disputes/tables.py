"""Disputes, their timelines and their photos (migration 0014). Money in minor units; times in
microseconds since the epoch (UTC).

One dispute per payment (``payment_id`` is unique). ``amount`` is what the payer asks back, in
what the payer paid (a campaign's part of a discounted payment is not theirs to ask for).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from saoma.db import metadata

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

disputes = Table(
    "disputes",
    metadata,
    Column("id", String(32), primary_key=True),  # dp_…
    Column("payment_id", String(32), ForeignKey("payments.id"), nullable=False, unique=True),
    Column("consumer_id", String(32), nullable=False),
    Column("merchant_id", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(24), nullable=False),
    Column("text", String(1000), nullable=False, server_default=""),
    # open | contested | escalated | refunded | decided_for_payer | decided_for_merchant | withdrawn
    Column("state", String(24), nullable=False),
    Column("answer_by_us", BigInteger, nullable=False),
    Column("merchant_text", String(1000), nullable=False, server_default=""),
    Column("decision", String(8), nullable=False, server_default=""),  # payer | merchant | ''
    Column("decided_by_role", String(16), nullable=False, server_default=""),
    Column("refund_id", String(32), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)
Index("ix_disputes_consumer", disputes.c.consumer_id, disputes.c.created_at_us)
Index("ix_disputes_merchant", disputes.c.merchant_id, disputes.c.created_at_us)
Index("ix_disputes_state", disputes.c.state, disputes.c.answer_by_us)

dispute_events = Table(
    "dispute_events",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("dispute_id", String(32), ForeignKey("disputes.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(8), nullable=False),  # payer | merchant | support | system
    Column("kind", String(24), nullable=False),
    Column("text", String(1000), nullable=False, server_default=""),
    Column("file_id", String(32), nullable=True),
)
Index("ix_dispute_events_dispute", dispute_events.c.dispute_id, dispute_events.c.seq)

dispute_files = Table(
    "dispute_files",
    metadata,
    Column("id", String(32), primary_key=True),  # df_…
    Column("dispute_id", String(32), ForeignKey("disputes.id"), nullable=False),
    Column("content_type", String(16), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("uploaded_by", String(8), nullable=False),  # payer | merchant
)
