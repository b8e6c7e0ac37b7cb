"""The batch transaction as seen by a caller's hook.

A service that records business facts with its money movement (an order marked paid, a payment
row, an outbox event, the stored response of an idempotent request) passes a hook with its
transfers. The hook runs inside the very database transaction that applies the batch, after the
ledger rules decided each transfer's result and before the commit, so the facts and the money
commit together or not at all. A hook that raises rolls back its own request only: the batch is
retried without it.

Statements use ``:name`` placeholders on both databases.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from saoma.core.errors import Refusal as Refusal  # what a hook raises to refuse its request
from saoma.ledger.domain import Result

_NAMED = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


class Tx:
    """A thin statement runner over the batch's DBAPI connection."""

    def __init__(self, raw: Any, *, postgres: bool) -> None:
        self._raw = raw
        self._postgres = postgres

    @property
    def postgres(self) -> bool:
        return self._postgres

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        cur = self._raw.cursor()
        if self._postgres:
            sql = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))
        cur.execute(sql, dict(params or {}))
        return cur


Hook = Callable[[Tx, list[Result]], None]
