"""Operators for tests: one of a role, signed in, without going through the console.

``signed_in_operator`` writes the operator and a session straight into the tables, so tests of
ops routes do not depend on the sign-in flow (tested on its own). ``reason`` is the
``Saoma-Reason`` header, percent-encoded as the console sends it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from saoma.core.ids import new_id, now_us, token_hash
from saoma.db import make_engine, write
from saoma.operators import tables as t

HOUR_US = 3600 * 1_000_000


@dataclass(frozen=True)
class OpsUser:
    id: str
    role: str
    token: str

    def headers(self, reason: str | None = None) -> dict[str, str]:
        found = {"Authorization": f"Bearer {self.token}"}
        if reason is not None:
            found["Saoma-Reason"] = quote(reason, safe="")
        return found


def operator_at(database_url: str, role: str) -> OpsUser:
    """An operator of ``role`` signed in on the database at ``database_url`` (a server's)."""
    engine = make_engine(database_url)
    try:
        return signed_in_operator(engine, role)
    finally:
        engine.dispose()


def signed_in_operator(engine: Engine, role: str, login: str | None = None) -> OpsUser:
    operator_id = new_id("op")
    token = "ot_" + secrets.token_urlsafe(24)
    at = now_us()
    with write(engine) as conn:
        conn.execute(
            insert(t.operators).values(
                id=operator_id,
                login=login or f"{operator_id}@ops.example",
                name=f"Test {role}",
                role=role,
                password_hash="!",  # cannot sign in with a password
                totp_secret="",
                created_at_us=at,
            )
        )
        conn.execute(
            insert(t.operator_sessions).values(
                token_hash=token_hash(token),
                operator_id=operator_id,
                created_at_us=at,
                expires_at_us=at + 8 * HOUR_US,
            )
        )
    return OpsUser(operator_id, role, token)
