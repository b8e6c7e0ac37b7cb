"""The wallets service's own records: the phones and e-mail addresses consumers claim and the
one-time codes that prove them (migration 0008_verify), and the records of consent -- PIN checks,
no-PIN limit changes, rule dates (migration 0008_consent).

Many wallets may claim one identifier; at most one holds it verified (a unique index over the
verified rows), and only that one receives money sent to it. Times are microseconds since the
epoch (UTC). ``saoma check-authorisations`` reads the consent records to prove each debit.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, text

from saoma.db import metadata

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

identifiers = Table(
    "identifiers",
    metadata,
    Column("consumer_id", String(32), ForeignKey("consumers.id"), primary_key=True),
    Column("value", String(254), primary_key=True),  # a phone (E.164) or an e-mail address
    Column("verified_at_us", BigInteger, nullable=False, server_default="0"),  # 0: not yet
    Column("code_hash", String(64), nullable=False, server_default=""),  # "" when no code is out
    Column("code_salt", String(32), nullable=False, server_default=""),
    Column("code_expires_at_us", BigInteger, nullable=False, server_default="0"),
    Column("code_attempts", Integer, nullable=False, server_default="0"),  # checks of this code
    Column("code_sent_at_us", BigInteger, nullable=False, server_default="0"),
    Column("sends", Integer, nullable=False, server_default="0"),  # codes sent since sends_since
    Column("sends_since_us", BigInteger, nullable=False, server_default="0"),
    Column("created_at_us", BigInteger, nullable=False),
)
Index(
    "uq_identifiers_verified_value",
    identifiers.c.value,
    unique=True,
    sqlite_where=text("verified_at_us > 0"),
    postgresql_where=text("verified_at_us > 0"),
)
Index("ix_identifiers_value", identifiers.c.value)

# Codes sent to one phone or e-mail address, whichever wallets asked: a number anyone can type
# must not become a way to flood its owner with messages.
identifier_sends = Table(
    "identifier_sends",
    metadata,
    Column("value", String(254), primary_key=True),
    Column("sends", Integer, nullable=False, server_default="0"),  # since since_us
    Column("since_us", BigInteger, nullable=False, server_default="0"),
)

# One row per successful PIN check; a debit confirmed with the PIN says ``pin:<id>``.
pin_checks = Table(
    "pin_checks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("consumer_id", String(32), ForeignKey("consumers.id"), nullable=False),
    Column("checked_at_us", BigInteger, nullable=False),
)

# Every no-PIN limit a wallet has had, from sign-up on: the limits in force at any moment.
no_pin_limit_changes = Table(
    "no_pin_limit_changes",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("consumer_id", String(32), ForeignKey("consumers.id"), nullable=False),
    Column("per_payment", BigInteger, nullable=False),
    Column("per_day", BigInteger, nullable=False),
    Column("changed_at_us", BigInteger, nullable=False),
    Index("ix_no_pin_limit_changes_consumer", "consumer_id", "changed_at_us"),
)

# When each consent rule came into force (written by the migration that brought it).
consent_rules = Table(
    "consent_rules",
    metadata,
    Column("rule", String(32), primary_key=True),
    Column("since_us", BigInteger, nullable=False),
)


consumers = Table(
    "consumers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("login", String(254), nullable=False, unique=True),  # phone (E.164) or e-mail
    Column("display_name", String(64), nullable=False, server_default=""),
    Column("password_hash", String(255), nullable=False),
    Column("pin_hash", String(255), nullable=True),
    Column("pin_failures", Integer, nullable=False, server_default="0"),
    Column("pin_locked_until_us", BigInteger, nullable=False, server_default="0"),
    Column("pin_pending", Integer, nullable=False, server_default="0"),  # tries being checked
    Column("pin_pending_since_us", BigInteger, nullable=False, server_default="0"),
    Column("no_pin_limit", BigInteger, nullable=False, server_default="0"),  # per payment
    Column("no_pin_daily_limit", BigInteger, nullable=False, server_default="0"),
    # Today's no-PIN spending: the day (YYYYMMDD, local) and what went without the PIN on it.
    Column("no_pin_day", Integer, nullable=False, server_default="0"),
    Column("no_pin_spent", BigInteger, nullable=False, server_default="0"),
    # Today's money sent to people (transfers, red packets): the day and the amount.
    Column("p2p_day", Integer, nullable=False, server_default="0"),
    Column("p2p_sent", BigInteger, nullable=False, server_default="0"),
    Column("account_id", BigInteger, nullable=False, unique=True),  # the wallet in the ledger
    Column("currency", String(3), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)


# Wrong passwords counted per account, per account and address, and per address
# (saoma.wallets.signins): keyed by a hash, so
# the table holds no login or address; a window's start and the tries counted in it.
sign_in_tries = Table(
    "sign_in_tries",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("window_start_us", BigInteger, nullable=False),
    Column("failures", Integer, nullable=False),
    Index("sign_in_tries_window", "window_start_us"),  # maintenance forgets the old ones
)

# The browsers and apps an account signed in from with its password (``saoma_device`` cookie):
# a check of its password from one of them is counted only under the account and address pair,
# so strangers guessing elsewhere, or sharing a carrier's address, do not lock the owner out.
sign_in_devices = Table(
    "sign_in_devices",
    metadata,
    Column("key", String(64), primary_key=True),  # sha256 of the kind, account and device token
    Column("account_key", String(64), nullable=False),  # sha256 of the kind and account
    Column("failures", Integer, nullable=False),  # wrong passwords on it since its last right one
    Column("expires_at_us", BigInteger, nullable=False),
    Index("sign_in_devices_account", "account_key"),  # a new password forgets them all
    Index("sign_in_devices_expiry", "expires_at_us"),  # maintenance forgets the old ones
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the bearer token
    Column("consumer_id", String(32), ForeignKey("consumers.id"), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
)
