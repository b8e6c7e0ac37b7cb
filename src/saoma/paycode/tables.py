"""Payment-code devices, their one-time handles, and failed tries per terminal (migration 0006)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from saoma.db import metadata

paycode_devices = Table(
    "paycode_devices",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("wallet_id", String(64), nullable=False),  # the consumer the codes pay from
    Column("secret", LargeBinary(32), nullable=False),
    Column("label", String(64), nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
)
Index("ix_paycode_devices_wallet", paycode_devices.c.wallet_id)

paycode_handles = Table(
    "paycode_handles",
    metadata,
    Column("handle", String(10), primary_key=True),  # random, unique, used once
    Column("device_id", String(32), ForeignKey("paycode_devices.id"), nullable=False),
    Column("used_at_us", BigInteger, nullable=True),
    # What used it: "<merchant id>/<order number>" of a charge. The same charge sent again (its
    # first try's outcome unknown, nothing written) may use the handle again.
    Column("used_for", String(100), nullable=True),
)
Index("ix_paycode_handles_device", paycode_handles.c.device_id)

paycode_failures = Table(
    "paycode_failures",
    metadata,
    Column("terminal", String(100), primary_key=True),  # merchant id + terminal id
    Column("window_start_us", BigInteger, nullable=False),
    Column("failures", Integer, nullable=False),  # wrong codes counted in the window
    # Codes being checked right now, and when the last try was claimed (saoma.windows).
    Column("pending", Integer, nullable=False, server_default="0"),
    Column("pending_since_us", BigInteger, nullable=False, server_default="0"),
)
