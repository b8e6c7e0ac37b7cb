"""Mandates, their pre-debit notices and the debits asked under them (migration 0017).

Money in minor units; times in microseconds since the epoch (UTC). A mandate's period is
``starts_at_us`` (the start date's midnight) up to ``ends_at_us`` (the midnight after the end
date), in the server's zone. ``last_period`` is the frequency's period (a day, a week, a month)
of the last debit: the debit's one conditional UPDATE requires a later one.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
)

from saoma.db import metadata

mandates = Table(
    "mandates",
    metadata,
    Column("id", String(32), primary_key=True),  # md_…
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("consumer_id", String(32), ForeignKey("consumers.id"), nullable=False),
    Column("merchant_mandate_no", String(64), nullable=False),
    Column("purpose", String(128), nullable=False),
    Column("amount_max", BigInteger, nullable=False),  # per debit, minor units
    Column("currency", String(3), nullable=False),
    Column("frequency", String(8), nullable=False),  # daily | weekly | monthly
    Column("start_on", String(10), nullable=False),  # YYYY-MM-DD
    Column("end_on", String(10), nullable=False),
    Column("starts_at_us", BigInteger, nullable=False),
    Column("ends_at_us", BigInteger, nullable=False),
    Column("state", String(12), nullable=False),  # requested | active | paused | revoked
    Column("agreement", String(64), nullable=False, server_default=""),  # pin:<check id>
    Column("last_period", BigInteger, nullable=True),
    Column("last_debit_at_us", BigInteger, nullable=True),
    Column("debits", BigInteger, nullable=False, server_default="0"),
    # The debits made when it was revoked: no debit can follow (the debit's UPDATE needs active).
    Column("debits_at_revocation", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("agreed_at_us", BigInteger, nullable=True),
    Column("revoked_at_us", BigInteger, nullable=True),
    Column("updated_at_us", BigInteger, nullable=False),
    UniqueConstraint("merchant_id", "merchant_mandate_no"),
    CheckConstraint("amount_max > 0", name="mandate_amount_max_positive"),
    CheckConstraint("ends_at_us > starts_at_us", name="mandate_period_not_empty"),
)
Index("ix_mandates_consumer", mandates.c.consumer_id, mandates.c.created_at_us)
# The merchant's list, newest first (migration 0020).
Index("ix_mandates_merchant", mandates.c.merchant_id, mandates.c.created_at_us, mandates.c.id)

mandate_notices = Table(
    "mandate_notices",
    metadata,
    Column("id", String(32), primary_key=True),  # mn_…
    Column("mandate_id", String(32), ForeignKey("mandates.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(12), nullable=False),  # pending | used | objected
    Column("created_at_us", BigInteger, nullable=False),
    Column("due_at_us", BigInteger, nullable=False),  # 24 hours after it was created
    Column("expires_at_us", BigInteger, nullable=False),
    Column("objected_at_us", BigInteger, nullable=True),
    Column("debit_id", String(32), nullable=True),
    CheckConstraint("amount > 0", name="mandate_notice_amount_positive"),
)
Index("ix_mandate_notices_mandate", mandate_notices.c.mandate_id, mandate_notices.c.created_at_us)

mandate_debits = Table(
    "mandate_debits",
    metadata,
    Column("id", String(32), primary_key=True),  # mdb_…
    Column("mandate_id", String(32), ForeignKey("mandates.id"), nullable=False),
    Column("notice_id", String(32), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("state", String(8), nullable=False),  # made | refused
    Column("reason", String(40), nullable=False, server_default=""),  # the refusal's slug
    Column("payment_id", String(32), nullable=True, unique=True),
    Column("created_at_us", BigInteger, nullable=False),
)
Index("ix_mandate_debits_mandate", mandate_debits.c.mandate_id, mandate_debits.c.created_at_us)
