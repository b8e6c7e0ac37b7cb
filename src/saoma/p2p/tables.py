"""Tables for transfers between people and red packets (migration 0005_p2p), and the recipient
lookups counted per consumer (migration 0015_lookup_limits)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from saoma.db import metadata

p2p_transfers = Table(
    "p2p_transfers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("sender_id", String(32), ForeignKey("consumers.id"), nullable=False),
    Column("recipient_id", String(32), nullable=True),  # None until a new wallet claims it
    Column("recipient_login", String(254), nullable=False, server_default=""),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("note", String(128), nullable=False, server_default=""),
    Column("state", String(10), nullable=False),  # done | waiting | claimed | returned
    Column("authorisation", String(64), nullable=False),
    Column("transfer_id", String(64), nullable=False, unique=True),  # the sender's debit
    Column("expires_at_us", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)
Index("ix_p2p_sender", p2p_transfers.c.sender_id, p2p_transfers.c.created_at_us)
Index("ix_p2p_recipient", p2p_transfers.c.recipient_id, p2p_transfers.c.created_at_us)
Index("ix_p2p_waiting", p2p_transfers.c.state, p2p_transfers.c.recipient_login)

red_packets = Table(
    "red_packets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("sender_id", String(32), ForeignKey("consumers.id"), nullable=False),
    Column("account_id", BigInteger, nullable=False, unique=True),  # the packet's own account
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("shares", Integer, nullable=False),
    Column("mode", String(8), nullable=False),  # equal | random
    Column("greeting", String(64), nullable=False, server_default=""),
    Column("claimed", Integer, nullable=False, server_default="0"),
    Column("state", String(8), nullable=False),  # open | emptied | expired
    Column("authorisation", String(64), nullable=False),
    Column("transfer_id", String(64), nullable=False, unique=True),  # the sender's funding
    Column("returned", BigInteger, nullable=False, server_default="0"),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)
Index("ix_red_packets_due", red_packets.c.state, red_packets.c.expires_at_us)

red_packet_shares = Table(
    "red_packet_shares",
    metadata,
    Column("packet_id", String(32), ForeignKey("red_packets.id"), primary_key=True),
    Column("idx", Integer, primary_key=True),  # claims take shares in order 1, 2, …
    Column("amount", BigInteger, nullable=False),  # drawn at creation, never shown before a claim
    Column("claimer_id", String(32), nullable=True),
    Column("state", String(8), nullable=False),  # free | claimed | paid
    Column("claimed_at_us", BigInteger, nullable=True),
    UniqueConstraint("packet_id", "claimer_id"),  # one share per person
)

# Recipient lookups per consumer: the window's start and how many it counted (saoma.windows).
lookup_limits = Table(
    "lookup_limits",
    metadata,
    Column("consumer_id", String(32), primary_key=True),
    Column("window_start_us", BigInteger, nullable=False),
    Column("lookups", Integer, nullable=False),
)
