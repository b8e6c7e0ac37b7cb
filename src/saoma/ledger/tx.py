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
and for everything sent before it (one wait answers every statement sent so far). An error then
surfaces at that wait or at the commit, and fails the batch as it would have at the statement
itself. A look that only decides whether to refuse the request (a freeze found, an order no
longer payable) goes to ``later``: it runs once every hook of the batch has run, so the whole
batch waits once for all of them, where each look waited for a round trip of its own.

``write`` goes further for writes nobody looks at (a new row, a stored response): on PostgreSQL
they wait until the next ``execute`` or the end of the hook, and go as ONE statement, each write
a data-modifying CTE of it, a write's own CTEs put before it (each statement costs the server and
psycopg as much as a small write's own work; two writes with CTEs of the same name go apart).
The writes joined see the same snapshot, so none may touch a row another of them writes, or read
what another writes; foreign keys are checked once the statement is done.
PostgreSQL runs a statement's CTEs in no promised order, so a write of the same SQL as one
waiting (a second outbox event: its ``seq`` orders a subject's webhooks) sends those waiting
first; that also keeps the joined statements few in shape and small.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

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


# Writes joined into one statement, by their SQL and whether each is counted.
_JOINED: dict[tuple[tuple[str, bool], ...], str] = {}


def _tagged(sql: str, tag: str) -> str:
    return _NAMED.sub(rf":{tag}\1", sql)


class _Write(NamedTuple):
    sql: str
    params: dict[str, Any]
    refusal: Callable[[], BaseException] | None  # a write that must match one row


def _joined(writes: list[_Write]) -> tuple[str, dict[str, Any]]:
    """``writes`` as one statement: each but the last a data-modifying CTE of the last, the
    CTEs of a write that has its own put before it (see ``_ctes``); each write's parameters
    renamed apart. When some must match one row (``refusal``), each is a CTE and the statement
    selects how many rows each of those matched, in order (see ``_Counts``)."""
    key = tuple((w.sql, w.refusal is not None) for w in writes)
    params = {f"_w{i}_{name}": v for i, w in enumerate(writes) for name, v in w.params.items()}
    sql = _JOINED.get(key)
    if sql is None:
        counted = [i for i, (_, one) in enumerate(key) if one]
        parts = []
        for i, (one, _) in enumerate(key):
            _, ctes, main = _ctes(_tagged(one, f"_w{i}_"))
            parts += ctes
            if i in counted:
                main += " RETURNING 1"
            if counted or i < len(key) - 1:
                parts.append(f"_w{i} AS ({main})")
        if counted:
            main = "SELECT " + ", ".join(f"(SELECT count(*) FROM _w{i})" for i in counted)
        sql = f"WITH {', '.join(parts)} {main}"
        if len(_JOINED) > 1024:  # the combinations are few: this only guards against misuse
            _JOINED.clear()
        _JOINED[key] = sql
    return sql, params


class _Counts:
    """The rows each counted write of a joined statement matched (its one row, read once)."""

    __slots__ = ("_row", "_sent", "_taken")

    def __init__(self, sent: Any) -> None:
        self._sent = sent
        self._row: Any = None
        self._taken = 0

    def look(self, refusal: Callable[[], BaseException]) -> Callable[[], None]:
        """The look refusing with ``refusal()`` unless the next counted write matched one row."""
        column = self._taken
        self._taken += 1

        def look() -> None:
            if self._row is None:
                self._row = self._sent.fetchone()
            if self._row[column] != 1:
                raise refusal()

        return look


_WITH = re.compile(r"\s*WITH\s", re.IGNORECASE)
_RETURNING = re.compile(r"\sRETURNING\s", re.IGNORECASE)
_RECURSIVE = re.compile(r"\s*WITH\s+RECURSIVE\s", re.IGNORECASE)
_CTE_HEAD = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s+AS\s*\(", re.IGNORECASE)
_COMMA = re.compile(r"\s*,")
_UNREAD = re.compile(r"--|/\*|\$[A-Za-z_0-9]*\$|\b[Ee]'")  # comments, dollar and E'' quoting
_SPLIT: dict[str, tuple[frozenset[str], list[str], str]] = {}
_WORD = re.compile(r"\w+")
_WORDS: dict[str, frozenset[str]] = {}


def _words(sql: str) -> frozenset[str]:
    """The words of ``sql`` (runs of letters, digits and underscores), lowercased: in ASCII SQL
    (Saoma's), a name is one of them exactly where ``\\bname\\b`` would be found in it,
    ignoring case. (A regex ignoring case would also take ``ſ``, ``ı`` or ``İ`` for ``s`` or
    ``i``; PostgreSQL folds ASCII only, so those never name the same thing there.)"""
    found = _WORDS.get(sql)
    if found is None:
        if len(_WORDS) > 4096:  # statements are constants: this only guards against misuse
            _WORDS.clear()
        found = _WORDS[sql] = frozenset(word.lower() for word in _WORD.findall(sql))
    return found


def _ctes(sql: str) -> tuple[frozenset[str], list[str], str]:
    """``sql`` split into its CTEs' names, its CTEs (``name AS (…)`` each) and its main
    statement; none and ``sql`` itself for a statement without CTEs."""
    found = _SPLIT.get(sql)
    if found is not None:
        return found
    if _UNREAD.search(sql):
        raise ValueError(f"comments or quoting not read here in {sql[:80]!r}")
    names: list[str] = []
    ctes: list[str] = []
    at = 0
    start = _WITH.match(sql)
    if start is not None:
        at = start.end()
        while True:
            head = _CTE_HEAD.match(sql, at)
            if head is None:  # a column list, MATERIALIZED: not written in Saoma's statements
                raise ValueError(f"a CTE not read here in {sql[:80]!r}")
            end = _closing(sql, head.end() - 1)
            names.append(head.group(1).lower())
            ctes.append(sql[head.start() : end + 1].strip())
            comma = _COMMA.match(sql, end + 1)
            if comma is None:
                at = end + 1
                break
            at = comma.end()
    found = (frozenset(names), ctes, sql[at:].strip())
    if len(_SPLIT) > 4096:  # statements are constants: this only guards against misuse
        _SPLIT.clear()
    _SPLIT[sql] = found
    return found


def _closing(sql: str, opening: int) -> int:
    """Where the parenthesis opened at ``opening`` closes (quoted text skipped)."""
    depth = 0
    at = opening
    while at < len(sql):
        char = sql[at]
        if char in "'\"":
            at = sql.index(char, at + 1)  # '' inside a literal: two quoted parts in a row
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return at
        at += 1
    raise ValueError(f"unbalanced parentheses in {sql[:80]!r}")


class Tx:
    """A thin statement runner over the batch's DBAPI connection (``pipeline``: the psycopg
    pipeline the batch's statements are sent on)."""

    def __init__(self, raw: Any, *, postgres: bool, pipeline: Any = None) -> None:
        self._raw = raw
        self._postgres = postgres
        self._pipeline = None if pipeline is None else _Pipeline(pipeline)
        self._writes: list[_Write] = []
        self._later: list[Callable[[], None]] = []

    @property
    def postgres(self) -> bool:
        return self._postgres

    def write(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a write whose result nobody looks at, touching rows no other write of the hook
        touches: on the batch's pipeline, joined with the writes next to it (see above)."""
        if self._pipeline is None or _RECURSIVE.match(sql):  # the latter cannot be a CTE
            self.execute(sql, params)
            return
        self._wait(sql, params, None)

    def write_or_refuse(
        self, sql: str, params: Mapping[str, Any], refusal: Callable[[], BaseException]
    ) -> None:
        """A conditional write (an order marked paid, an allowance taken) that must match
        exactly one row, or the request is refused with ``refusal()``: :meth:`expect_one` of
        it, the write itself joined with the writes next to it as :meth:`write` is (on the
        pipeline, the rows it matched are counted by the joined statement)."""
        if self._pipeline is None or _RECURSIVE.match(sql) or _RETURNING.search(sql):
            self.expect_one(self.execute(sql, params), refusal)
            return
        self._wait(sql, params, refusal)

    def _wait(
        self, sql: str, params: Mapping[str, Any] | None, refusal: Callable[[], Any] | None
    ) -> None:
        try:
            names = _ctes(sql)[0]
        except ValueError:  # SQL the joining does not read (a comment, dollar quotes): alone
            self.flush()
            sent = self._send(sql, dict(params or {}))
            if refusal is not None:
                self.expect_one(sent, refusal)
            return
        waiting = frozenset().union(*(_ctes(w.sql)[0] for w in self._writes))
        if (
            any(sql == w.sql for w in self._writes)  # the same write again
            or names & waiting  # CTEs of the same names
            or waiting & _words(sql)
        ):  # (the last: a CTE waiting would stand for the table this write names)
            self.flush()
        self._writes.append(_Write(sql, dict(params or {}), refusal))

    def later(self, look: Callable[[], None]) -> None:
        """Run ``look``, a look at results that may refuse the request (by raising), once
        every hook of the batch has run and before the commit, in the order given; the batch's
        statements are then answered by one wait. Without a pipeline (SQLite, a transaction of
        its own) it runs at once. A hook's own later statements do not depend on the look:
        when it refuses, the whole batch is rolled back and goes again without the request."""
        if self._pipeline is None:
            look()
        else:
            self._later.append(look)

    def expect_one(self, result: Any, refusal: Callable[[], BaseException]) -> None:
        """Refuse the request with ``refusal()`` unless ``result`` (of a conditional UPDATE:
        an order marked paid, an allowance taken) matched exactly one row; a look put off
        with :meth:`later`."""

        def look() -> None:
            if result.rowcount != 1:
                raise refusal()

        self.later(look)

    def run_later(self) -> None:
        """Run the looks put off by :meth:`later` (the batch, after its last hook)."""
        looks, self._later = self._later, []
        for look in looks:
            look()

    def flush(self) -> None:
        """Send the writes waiting (``execute`` does first, and the batch at each hook's end)."""
        writes, self._writes = self._writes, []
        if len(writes) == 1:
            (one,) = writes
            sent = self._send(one.sql, one.params)
            if one.refusal is not None:
                self.expect_one(sent, one.refusal)
        elif writes:
            sent = self._send(*_joined(writes))
            counts = _Counts(sent)
            for w in writes:
                if w.refusal is not None:
                    self.later(counts.look(w.refusal))

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        if self._writes:
            self.flush()
        return self._send(sql, dict(params or {}))

    def _send(self, sql: str, params: dict[str, Any]) -> Any:
        cur = self._raw.cursor()
        if self._postgres:
            sql = _pyformat(sql)
        cur.execute(sql, params)
        if self._pipeline is not None:
            self._pipeline.sent += 1
            return _Awaited(cur, self._pipeline, self._pipeline.sent)
        return cur


class _Pipeline:
    """The batch's psycopg pipeline, and how many statements were sent on it and answered."""

    __slots__ = ("answered", "pipeline", "sent")

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.sent = 0
        self.answered = 0

    def wait_for(self, sent: int) -> None:
        """Wait for the answer of the ``sent``-th statement: every statement sent so far is
        answered by the same wait, so a later look at one of them waits no more."""
        if self.answered < sent:
            self.pipeline.sync()
            self.answered = self.sent


class _Awaited:
    """A statement sent on the pipeline: its answer is waited for when first looked at."""

    __slots__ = ("_cur", "_number", "_pipeline")

    def __init__(self, cur: Any, pipeline: _Pipeline, number: int) -> None:
        self._cur = cur
        self._pipeline = pipeline
        self._number = number

    def _answer(self) -> Any:
        self._pipeline.wait_for(self._number)
        return self._cur

    def __getattr__(self, name: str) -> Any:
        return getattr(self._answer(), name)

    def __iter__(self) -> Any:
        return iter(self._answer())


Hook = Callable[[Tx, list[Result]], None]
