"""The settlement package's tables. Created by migration 0010_settlement, never by ``create_all``.

Times are microseconds since the epoch (UTC); amounts are integer minor units.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, UniqueConstraint

from saoma.db import metadata

# A merchant's bank accounts, newest last. Each is verified by the bank before it is used; the
# one in use is the newest verified one. Rows are never deleted: they are the change history.
merchant_bank_accounts = Table(
    "merchant_bank_accounts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), nullable=False),
    Column("holder_name", String(70), nullable=False),
    Column("account_number", String(34), nullable=False),  # IBAN or a domestic number
    Column("bank_name", String(70), nullable=False, server_default=""),
    Column("state", String(12), nullable=False),  # verifying | verified | failed | replaced
    Column("failure", String(128), nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)
Index(
    "ix_merchant_bank_accounts_merchant",
    merchant_bank_accounts.c.merchant_id,
    merchant_bank_accounts.c.created_at_us,
)

# How and when a merchant is paid; one row per merchant, made with the defaults when first needed.
settlement_terms = Table(
    "settlement_terms",
    metadata,
    Column("merchant_id", String(32), primary_key=True),
    Column("schedule", String(8), nullable=False),  # daily | weekly
    Column("cutoff_hour", Integer, nullable=False),  # 0-23 in SAOMA_TIMEZONE
    Column("weekday", Integer, nullable=False, server_default="0"),  # weekly: 0 = Monday
    Column("reserve_ppm", Integer, nullable=False, server_default="0"),  # rolling reserve
    Column("reserve_days", Integer, nullable=False, server_default="0"),
    # How far below zero refunds may take the merchant's own money (granted = moved in the ledger).
    Column("overdraft_limit", BigInteger, nullable=False, server_default="0"),
    Column("overdraft_granted", BigInteger, nullable=False, server_default="0"),
    Column("settled_through_us", BigInteger, nullable=False, server_default="0"),  # last cut-off
    Column("updated_at_us", BigInteger, nullable=False),
)

# One settlement: the lines it took (settlement_lines), what they add up to, and its payout.
settlements = Table(
    "settlements",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), nullable=False),
    Column("kind", String(12), nullable=False),  # scheduled | instant
    Column("currency", String(3), nullable=False),
    Column("business_date", String(10), nullable=False),  # YYYY-MM-DD, merchant's local time
    Column("period_start_us", BigInteger, nullable=False),
    Column("period_end_us", BigInteger, nullable=False),  # the cut-off: lines are before it
    Column("lines", Integer, nullable=False, server_default="0"),
    Column("gross", BigInteger, nullable=False, server_default="0"),  # payments and captures
    Column("fees", BigInteger, nullable=False, server_default="0"),  # net of fees given back
    Column("refunds", BigInteger, nullable=False, server_default="0"),
    Column("splits", BigInteger, nullable=False, server_default="0"),  # received less given
    Column("reserve", BigInteger, nullable=False, server_default="0"),  # released less held
    Column("other", BigInteger, nullable=False, server_default="0"),  # subsidies, budgets...
    Column("carried_in", BigInteger, nullable=False, server_default="0"),
    Column("net", BigInteger, nullable=False, server_default="0"),  # the sum of the lines
    Column("payout", BigInteger, nullable=False, server_default="0"),  # what goes to the bank
    Column("carried_out", BigInteger, nullable=False, server_default="0"),  # net - payout
    # open (lines being taken) | closed (to move) | paying | paid | failed | nothing
    Column("state", String(8), nullable=False),
    Column("attempt", Integer, nullable=False, server_default="0"),
    Column("bank_account_id", String(32), nullable=True),
    Column("instruction_id", String(40), nullable=True),
    Column("bank_reference", String(64), nullable=False, server_default=""),
    Column("failure", String(128), nullable=False, server_default=""),
    Column("consumed_by", String(32), nullable=True),  # the settlement that took carried_out
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("paid_at_us", BigInteger, nullable=True),
    UniqueConstraint("merchant_id", "kind", "period_end_us", name="uq_settlements_period"),
)
Index("ix_settlements_merchant", settlements.c.merchant_id, settlements.c.period_end_us)
Index("ix_settlements_state", settlements.c.state, settlements.c.updated_at_us)

# What a settlement is made of. ``source`` is the ledger transfer's id (or ``carry:<settlement>``
# for what an earlier settlement carried over), unique per merchant: a movement is in one
# settlement of each merchant it moved money of (a split is a line of both merchants').
settlement_lines = Table(
    "settlement_lines",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("settlement_id", String(32), nullable=False),
    Column("merchant_id", String(32), primary_key=True),
    # payment | capture | fee | refund | split | reserve | subsidy | budget | carried | other
    Column("kind", String(12), nullable=False),
    Column("ref", String(128), nullable=False, server_default=""),  # payment, refund... id
    Column("amount", BigInteger, nullable=False),  # signed: + into the merchant's account
    Column("at_us", BigInteger, nullable=False),
)
Index("ix_settlement_lines_settlement", settlement_lines.c.settlement_id, settlement_lines.c.at_us)

# Bank instructions that pay a settlement out: one per attempt, idempotent by id at the bank.
payouts = Table(
    "payouts",
    metadata,
    Column("id", String(40), primary_key=True),  # po_…: the instruction id the bank sees
    Column("settlement_id", String(32), nullable=False),
    Column("merchant_id", String(32), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("bank_account_id", String(32), nullable=False),
    Column("state", String(12), nullable=False),  # pending | succeeded | failed
    Column("bank_reference", String(64), nullable=False, server_default=""),
    Column("failure", String(128), nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("request_id", String(64), nullable=True),  # the API request that caused it
    UniqueConstraint("settlement_id", "attempt", name="uq_payouts_attempt"),
)
Index("ix_payouts_state", payouts.c.state, payouts.c.updated_at_us)

# The rolling reserve: a share of a settlement held back until ``release_after_us``.
reserves = Table(
    "reserves",
    metadata,
    Column("id", String(40), primary_key=True),  # the ledger transfer that held it
    Column("settlement_id", String(32), nullable=False),
    Column("merchant_id", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("release_after_us", BigInteger, nullable=False),
    Column("released_transfer_id", String(64), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
)
Index("ix_reserves_merchant", reserves.c.merchant_id, reserves.c.release_after_us)

# Profit sharing: an agreement a receiver accepted, and the splits paid under it.
split_agreements = Table(
    "split_agreements",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), nullable=False),  # who gives the share
    Column("receiver_id", String(32), nullable=False),  # another merchant
    Column("share_ppm", Integer, nullable=False, server_default="0"),  # a percentage...
    Column("fixed", BigInteger, nullable=False, server_default="0"),  # ...or a fixed amount
    Column("cap", BigInteger, nullable=False, server_default="0"),  # 0: no cap
    Column("standing", Integer, nullable=False, server_default="0"),  # 1: every payment
    Column("state", String(10), nullable=False),  # proposed | accepted | declined | ended
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)
Index("ix_split_agreements_merchant", split_agreements.c.merchant_id)
Index("ix_split_agreements_receiver", split_agreements.c.receiver_id)

payment_splits = Table(
    "payment_splits",
    metadata,
    Column("id", String(64), primary_key=True),  # the ledger transfer's id
    Column("payment_id", String(32), nullable=False),
    Column("agreement_id", String(32), nullable=False),
    Column("merchant_id", String(32), nullable=False),
    Column("receiver_id", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("returned", BigInteger, nullable=False, server_default="0"),  # by refunds
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("payment_id", "agreement_id", name="uq_payment_splits_agreement"),
)
Index("ix_payment_splits_payment", payment_splits.c.payment_id)

# Reconciliation: the bank's statement files, and every line that did not match.
bank_statements = Table(
    "bank_statements",
    metadata,
    Column("id", String(64), primary_key=True),  # the statement's own id (camt.053 Stmt/Id)
    Column("statement_date", String(10), nullable=False),
    Column("file_name", String(255), nullable=False, server_default=""),
    Column("lines", Integer, nullable=False),
    Column("imported_at_us", BigInteger, nullable=False),
)

recon_breaks = Table(
    "recon_breaks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("statement_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # missing | amount | unknown | duplicate
    Column("reference", String(64), nullable=False),
    Column("expected", BigInteger, nullable=True),  # Saoma's amount
    Column("reported", BigInteger, nullable=True),  # the bank's amount
    Column("state", String(10), nullable=False),  # open | resolved
    Column("note", String(500), nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    Column("resolved_at_us", BigInteger, nullable=True),
    UniqueConstraint("statement_id", "kind", "reference", name="uq_recon_breaks_line"),
)
Index("ix_recon_breaks_state", recon_breaks.c.state, recon_breaks.c.created_at_us)
