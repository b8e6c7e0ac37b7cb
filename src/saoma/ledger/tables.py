"""The ledger's tables. Created by migration 0001_ledger, never by ``create_all``."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)

from saoma.db import metadata

# SQLite only treats INTEGER PRIMARY KEY as the rowid alias that autoincrements.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

accounts = Table(
    "accounts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("currency", String(3), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("flags", Integer, nullable=False, server_default="0"),
    Column("debits_pending", BigInteger, nullable=False, server_default="0"),  # minor units
    Column("debits_posted", BigInteger, nullable=False, server_default="0"),
    Column("credits_pending", BigInteger, nullable=False, server_default="0"),
    Column("credits_posted", BigInteger, nullable=False, server_default="0"),
    Column("user_data", String(256), nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint(
        "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0"
        " AND credits_posted >= 0",
        name="balances_not_negative",
    ),
    # The flags are enforced here as well as in code: a bug can never overdraw a wallet.
    CheckConstraint(
        "(flags & 1) = 0 OR debits_pending + debits_posted <= credits_posted",
        name="debits_must_not_exceed_credits",
    ),
    CheckConstraint(
        "(flags & 2) = 0 OR credits_pending + credits_posted <= debits_posted",
        name="credits_must_not_exceed_debits",
    ),
)
# PostgreSQL: fillfactor 50 (migration 0007), room on each page for balance updates.

transfers = Table(
    "transfers",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    # No foreign keys to accounts: each batch locks both accounts of every transfer and refuses
    # one that does not exist; ``saoma ledger check`` proves they all exist (migration 0007).
    Column("debit_account_id", BigInteger, nullable=False),
    Column("credit_account_id", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),  # minor units
    Column("code", SmallInteger, nullable=False),
    Column("flags", Integer, nullable=False),
    Column("pending_id", String(64), nullable=True),
    Column("timeout_s", Integer, nullable=False, server_default="0"),
    Column("ref", String(128), nullable=False, server_default=""),
    Column("user_data", Text, nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="accounts_different"),
)
Index("ix_transfers_debit", transfers.c.debit_account_id, transfers.c.seq)
Index("ix_transfers_credit", transfers.c.credit_account_id, transfers.c.seq)

holds = Table(
    "holds",
    metadata,
    Column("transfer_id", String(64), primary_key=True),
    Column("debit_account_id", BigInteger, nullable=False),
    Column("credit_account_id", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),  # minor units reserved
    Column("expires_at_us", BigInteger, nullable=True),
    Column("state", SmallInteger, nullable=False),  # HoldState
    Column("resolved_by", String(64), nullable=True),
)
# The sweeper's query: pending holds by expiry time, small because resolved holds drop out.
Index(
    "ix_holds_pending_expiry",
    holds.c.expires_at_us,
    postgresql_where=text("state = 1"),
    sqlite_where=text("state = 1"),
)
Index("ix_holds_debit_pending", holds.c.debit_account_id, holds.c.state)
