"""Freezes (migration 0012_freezes): one row per freeze of a wallet or a merchant, kept after it is
lifted (``lifted_at_us`` > 0) as the subject's history.

At most one freeze of a subject is active: a unique index over the rows not lifted, the atomic
rule that makes two concurrent freezes of one wallet one freeze and one conflict. The ledger's
movements look freezes up by ``account_id`` among the active rows (a partial index, as small as
the number of frozen accounts). Times are microseconds since the epoch (UTC).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ColumnElement, Index, String, Table, exists, text

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
    # The last ledger transfer committed when the freeze (and the lift) took the account's lock:
    # a debit of the account numbered after since_seq and up to until_seq (or after since_seq,
    # while active) was made during the freeze (saoma check-authorisations).
    Column("since_seq", BigInteger, nullable=False, server_default="0"),
    Column("until_seq", BigInteger, nullable=False, server_default="0"),
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


def frozen(subject_id: ColumnElement[str]) -> ColumnElement[bool]:
    """A SQL condition: the subject whose id is ``subject_id`` (a column) is frozen now."""
    c = freezes.c
    return exists().where(c.subject_id == subject_id, c.lifted_at_us == 0)
