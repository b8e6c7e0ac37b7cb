"""Mini-programs, their authorization codes and the grants the codes became (migration
0018_mini_programs). Times are microseconds since the epoch (UTC).

A code is redeemed by one conditional UPDATE (``redeemed_at_us = 0`` while unused), so of any
number of concurrent exchanges exactly one gets a token; the grant it becomes names the code
(unique), the database's own refusal of a second grant from one code. Codes and tokens are
stored as SHA-256 hashes only: a copy of the database cannot be replayed against the API.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from saoma.db import metadata

mini_programs = Table(
    "mini_programs",
    metadata,
    Column("id", String(32), primary_key=True),  # mp_…
    Column("merchant_id", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("name_zh", String(64), nullable=False),
    Column("icon", Text, nullable=False),  # a data: URL, PNG or SVG, ICON_BYTES_MAX at most
    Column("origin", String(200), nullable=False, unique=True),  # scheme://host[:port]
    Column("scopes", String(200), nullable=False),  # space-separated, e.g. "profile.phone"
    Column("state", String(16), nullable=False),  # pending | approved
    # Keys the service's pairwise subject ids: the same payer is a different ``sub`` to each
    # service, so two services cannot match their users up. Never leaves the database.
    Column("subject_salt", String(64), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("approved_at_us", BigInteger, nullable=False, server_default="0"),
)
Index("ix_mini_programs_merchant", mini_programs.c.merchant_id, mini_programs.c.created_at_us)

mini_codes = Table(
    "mini_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("mini_program_id", String(32), nullable=False),
    Column("consumer_id", String(32), nullable=False),
    Column("scopes", String(200), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("redeemed_at_us", BigInteger, nullable=False, server_default="0"),  # 0: unused
)

mini_grants = Table(
    "mini_grants",
    metadata,
    Column("id", String(32), primary_key=True),  # mg_…
    Column("mini_program_id", String(32), nullable=False),
    Column("consumer_id", String(32), nullable=False),
    Column("scopes", String(200), nullable=False),
    Column("code_hash", String(64), nullable=False, unique=True),  # one grant per code
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=False, server_default="0"),  # 0: in force
)
Index(
    "ix_mini_grants_consumer",
    mini_grants.c.consumer_id,
    mini_grants.c.mini_program_id,
    mini_grants.c.revoked_at_us,
)
