"""The wallets service's own records of consent: PIN checks, no-PIN limit changes, rule dates.

Created by migration 0008_consent, never by ``create_all``. Times are microseconds since the epoch
(UTC). ``saoma check-authorisations`` reads them to prove each debit's consent.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table

from saoma.db import metadata

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

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
