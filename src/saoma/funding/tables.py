"""The funding package's tables: the bank transfers behind top-ups and withdrawals.

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
)

from saoma.db import metadata

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


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
    Column("request_id", String(64), nullable=True),  # the API request that caused it
)


Index("ix_bank_transfers_consumer", bank_transfers.c.consumer_id, bank_transfers.c.created_at_us)
Index("ix_bank_transfers_state", bank_transfers.c.state)  # what is pending, counted cheaply
