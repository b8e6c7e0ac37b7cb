"""The batch transaction as seen by a caller's hook.

A service that records business facts with its money movement (an order marked paid, a payment
row, an outbox event, the stored response of an idempotent request) passes a hook with its
transfers. The hook runs inside the very database transaction that applies the batch, after the
ledger rules decided each transfer's result and before the commit, so the facts and the money
commit together or not at all. A hook that raises rolls back its own request only: the batch is
retried without it.

Statements use ``:name`` placeholders on both databases.

On PostgreSQL the hook runs in the batch's pipeline: a statement whose result nobody looks at is
sent with the next one instead of waiting for its answer, so the rows the batch locked are held
for fewer round trips. Looking at a statement's result (its row count, its rows) waits for it,
and for everything sent before it. An error then surfaces at that wait or at the commit, and
fails the batch as it would have at the statement itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from saoma.core.errors import Refusal as Refusal  # what a hook raises to refuse its request
from saoma.ledger.domain import Result

_NAMED = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


_PYFORMAT: dict[str, str] = {}  # a statement with ``:name`` placeholders, as psycopg takes it


def _pyformat(sql: str) -> str:
    converted = _PYFORMAT.get(sql)
    if converted is None:
        if len(_PYFORMAT) > 4096:  # statements are constants: this only guards against misuse
            _PYFORMAT.clear()
        converted = _PYFORMAT[sql] = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))
    return converted


class Tx:
    """A thin statement runner over the batch's DBAPI connection (``pipeline``: the psycopg
    pipeline the batch's statements are sent on)."""

    def __init__(self, raw: Any, *, postgres: bool, pipeline: Any = None) -> None:
        self._raw = raw
        self._postgres = postgres
        self._pipeline = pipeline

    @property
    def postgres(self) -> bool:
        return self._postgres

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        cur = self._raw.cursor()
        if self._postgres:
            sql = _pyformat(sql)
        cur.execute(sql, dict(params or {}))
        if self._pipeline is not None:
            return _Awaited(cur, self._pipeline)
        return cur


class _Awaited:
    """A statement sent on the pipeline: its answer is waited for when first looked at."""

    __slots__ = ("_cur", "_pipeline", "_received")

    def __init__(self, cur: Any, pipeline: Any) -> None:
        self._cur = cur
        self._pipeline = pipeline
        self._received = False

    def _answer(self) -> Any:
        if not self._received:
            self._pipeline.sync()
            self._received = True
        return self._cur

    def __getattr__(self, name: str) -> Any:
        return getattr(self._answer(), name)

    def __iter__(self) -> Any:
        return iter(self._answer())


Hook = Callable[[Tx, list[Result]], None]
