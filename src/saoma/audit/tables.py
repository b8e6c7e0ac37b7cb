"""The audit log and its head.

``audit_log`` is append-only: triggers on both databases refuse an UPDATE or a DELETE of an
entry (migration 0011). Each entry carries the SHA-256 of the one before it (``prev_hash``) and
its own (``hash``), so an entry edited or removed by someone who went around the triggers breaks
the chain, and ``saoma audit verify`` names the first entry that does not fit. ``audit_head`` is
one row, the last entry's sequence number and hash: appends lock it, so they form one line.
Times are microseconds since the epoch (UTC).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from saoma.db import metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # 1, 2, 3… no gaps
    Column("at_us", BigInteger, nullable=False),
    Column("operator_id", String(32), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(48), nullable=False),  # "consumer.view", "wallet.freeze", …
    Column("subject_kind", String(16), nullable=False, server_default=""),  # consumer | merchant
    Column("subject_id", String(32), nullable=False, server_default=""),
    Column("what", String(200), nullable=False, server_default=""),  # what was looked at or done
    Column("reason", String(200), nullable=False, server_default=""),  # as the operator typed it
    Column("address", String(64), nullable=False, server_default=""),  # the operator's IP
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_log_subject", audit_log.c.subject_id, audit_log.c.seq)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
