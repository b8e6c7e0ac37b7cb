"""Operators: who they are, and the session a signed-in operator's requests carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.core.ids import now_us, token_hash
from saoma.db import read
from saoma.operators import tables as t

SESSION_TOKEN_PREFIX = "ot_"  # noqa: S105  # a prefix, not a secret


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    login: str
    name: str
    role: str

    @classmethod
    def of(cls, row: Any) -> Operator:
        return cls(row.id, row.login, row.name, row.role)


class Operators:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def for_token(self, token: str) -> Operator | None:
        """The active operator whose unexpired session ``token`` is, or None."""
        o, s = t.operators.c, t.operator_sessions.c
        with read(self.engine) as conn:
            row = conn.execute(
                select(o.id, o.login, o.name, o.role)
                .join(t.operator_sessions, s.operator_id == o.id)
                .where(
                    s.token_hash == token_hash(token),
                    s.expires_at_us > now_us(),
                    o.disabled_at_us == 0,
                )
            ).first()
        return Operator.of(row) if row is not None else None
