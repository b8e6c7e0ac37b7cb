"""The onboarding table: one row per merchant that submitted its details (or was running before
onboarding existed). A merchant without a row is ``unverified``.

Created by migrations, never by ``create_all``. Times are microseconds since the epoch (UTC).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from saoma.db import metadata

merchant_kyc = Table(
    "merchant_kyc",
    metadata,
    Column("merchant_id", String(32), ForeignKey("merchants.id"), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("legal_name", String(100), nullable=False, server_default=""),
    Column("licence_number", String(32), nullable=False, server_default=""),
    Column("category", String(4), nullable=False, server_default=""),
    # AES-GCM under a key kept outside the database: "<key id>:<base64 nonce + ciphertext>"
    Column("owner_id_cipher", String(255), nullable=False, server_default=""),
    Column("owner_id_last4", String(4), nullable=False, server_default=""),
    Column("message", String(500), nullable=False, server_default=""),  # shown on rejection
    Column("submitted_at_us", BigInteger, nullable=True),
    Column("decided_at_us", BigInteger, nullable=True),
    Column("decided_by", String(32), nullable=False, server_default=""),
    Column("decided_role", String(16), nullable=False, server_default=""),
    # What the merchant received on local day ``day`` (YYYYMMDD) while not approved.
    Column("day", Integer, nullable=False, server_default="0"),
    Column("taken", BigInteger, nullable=False, server_default="0"),
    CheckConstraint(
        "state IN ('unverified', 'pending', 'approved', 'rejected')", name="state_known"
    ),
    CheckConstraint("taken >= 0", name="taken_not_negative"),
)

Index("ix_merchant_kyc_state", merchant_kyc.c.state, merchant_kyc.c.submitted_at_us)
