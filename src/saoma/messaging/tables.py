"""The sandbox messenger's outbox. Created by migration 0008_verify."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table

from saoma.db import metadata

sandbox_messages = Table(
    "sandbox_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("channel", String(8), nullable=False),  # sms | email
    Column("recipient", String(254), nullable=False),  # a phone (E.164) or an e-mail address
    Column("body", String(512), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)
Index(
    "ix_sandbox_messages_recipient",
    sandbox_messages.c.recipient,
    sandbox_messages.c.created_at_us,
)
Index("ix_sandbox_messages_created", sandbox_messages.c.created_at_us)
