"""Freezes (migration 0012_freezes): one row per freeze of a wallet or a merchant, kept after it is
lifted (``lifted_at_us`` > 0) as the subject's history.

At most one freeze of a subject is active: a unique index over the rows not lifted, the atomic
rule that makes two concurrent freezes of one wallet one freeze and one conflict. The ledger's
movements look freezes up by ``account_id`` among the active rows (a partial index, as small as
the number of frozen accounts). Times are microseconds since the epoch (UTC).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, text

from saoma.db import metadata

freezes = Table(
    "freezes",
    metadata,
    Column("id", String(32), primary_key=True),  # fz_…
    Column("subject_kind", String(16), nullable=False),  # consumer | merchant
    Column("subject_id", String(32), nullable=False),
    Column("account_id", BigInteger, nullable=False),  # the subject's ledger account
    Column("reason_shown", String(200), nullable=False),  # what the person sees
    Column("appeal", String(300), nullable=False),  # how the person can appeal
    Column("frozen_by", String(32), nullable=False),  # the operator's id
    Column("by_role", String(16), nullable=False),
    Column("frozen_at_us", BigInteger, nullable=False),
    Column("lifted_at_us", BigInteger, nullable=False, server_default="0"),  # 0 while active
    Column("lifted_by", String(32), nullable=False, server_default=""),
    Column("lift_note", String(200), nullable=False, server_default=""),
)
Index(
    "uq_freezes_active_subject",
    freezes.c.subject_id,
    unique=True,
    sqlite_where=text("lifted_at_us = 0"),
    postgresql_where=text("lifted_at_us = 0"),
)
Index(
    "ix_freezes_active_account",
    freezes.c.account_id,
    sqlite_where=text("lifted_at_us = 0"),
    postgresql_where=text("lifted_at_us = 0"),
)
Index("ix_freezes_subject", freezes.c.subject_id, freezes.c.frozen_at_us)
