"""Operators and their sessions (migration 0011). Times are microseconds since the epoch (UTC).

An operator signs in with a password and a TOTP code (RFC 6238); ``totp_last_step`` is the last
time step a code was accepted for, so a code is good once. The role decides what the operator may
do (see :mod:`saoma.operators.roles`).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table

from saoma.db import metadata

operators = Table(
    "operators",
    metadata,
    Column("id", String(32), primary_key=True),  # op_…
    Column("login", String(254), nullable=False, unique=True),
    Column("name", String(64), nullable=False, server_default=""),
    Column("role", String(16), nullable=False),  # support | risk | finance | admin
    Column("password_hash", String(255), nullable=False),
    Column("totp_secret", String(64), nullable=False),  # base32
    Column("totp_last_step", BigInteger, nullable=False, server_default="0"),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("locked_until_us", BigInteger, nullable=False, server_default="0"),
    Column("disabled_at_us", BigInteger, nullable=False, server_default="0"),  # 0: active
    Column("created_at_us", BigInteger, nullable=False),
)

operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the ot_… token
    Column("operator_id", String(32), ForeignKey("operators.id"), nullable=False),
    Column("address", String(64), nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
)
