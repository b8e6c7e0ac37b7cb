"""Statements that commit on their own, sent to libpq directly instead of through psycopg's cursor.

psycopg's cursor spent about 35 µs of CPU per statement more in Python (a new cursor, the query's
conversion, its prepared statements' bookkeeping, the wait loop) than the same statement's
parameters dumped and its rows loaded by psycopg's own C adapters around one ``PQexecPrepared``,
which gives up the GIL while it waits (bench/driver.py). Used by ``saoma.db`` for the
statements Saoma runs alone (``Bare`` and ``driver_write`` on a connection in autocommit); the
answer and the errors are psycopg's cursor's.

Each connection prepares each statement, by its parameters' types, at its first use; the names
are this process's own (psycopg's are ``_pg3_N``).
"""

from __future__ import annotations

import re
import threading
from typing import Any

import psycopg
from psycopg import errors as psycopg_errors
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer

_PARAM = re.compile(r"%\((\w+)\)s|%%")
_STATEMENTS: dict[str, tuple[bytes, tuple[str, ...]]] = {}  # SQL: as libpq's, its parameters
_NAMES: dict[tuple[str, tuple[int, ...]], bytes] = {}  # SQL and parameter types: the name
_NAMES_LOCK = threading.Lock()
PREPARED_MAX = 256  # statements prepared per connection; beyond them, sent unprepared
_DROPPED = b"26000"  # no such prepared statement (the server's DEALLOCATE ALL)
_STALE = b"0A000"  # with "cached plan must not change result type": a table changed under it


class _Session:
    """What this process keeps of one PostgreSQL connection for :func:`run`."""

    __slots__ = ("encoding", "prepared", "transformer")

    def __init__(self, driver: Any) -> None:
        self.transformer = Transformer(driver)
        self.prepared: set[bytes] = set()
        self.encoding: str = driver.info.encoding


# Kept on the connection itself (its transformer refers to it: as a weak key's value it would
# never be dropped), and dropped with it.
_SESSION = "_saoma_libpq"


def ready(driver: Any, values: Any) -> bool:
    """Whether a statement on ``driver`` can go to libpq directly: a psycopg connection in
    autocommit with no transaction open and no pipeline (the statement commits on its own),
    and named parameters. Anything else (a transaction psycopg begins, SQLite) takes the
    cursor."""
    return (
        isinstance(driver, psycopg.Connection)
        and type(values) is dict
        and driver.autocommit
        and driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
        and not driver.pgconn.pipeline_status
    )


def _libpq_statement(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """``sql`` (psycopg's ``%(name)s`` parameters) as libpq's (``$1``), and the names in order."""
    found = _STATEMENTS.get(sql)
    if found is None:
        order: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return "%"
            if name not in order:
                order.append(name)
            return f"${order.index(name) + 1}"

        found = _STATEMENTS[sql] = (_PARAM.sub(number, sql).encode(), tuple(order))
    return found


def _statement_name(sql: str, types: tuple[int, ...]) -> bytes:
    name = _NAMES.get((sql, types))
    if name is None:
        with _NAMES_LOCK:
            name = _NAMES.setdefault((sql, types), f"saoma_{len(_NAMES)}".encode())
    return name


def run(
    driver: Any, sql: str, values: dict[str, Any], fetch: bool, *, every: bool, describe: bool
) -> tuple[int, Any, Any]:
    """``saoma.db._on_driver`` for a statement that commits on its own: the same answer, and the
    same psycopg errors, as psycopg's cursor gives."""
    session: _Session | None = getattr(driver, _SESSION, None)
    if session is None:
        session = _Session(driver)
        setattr(driver, _SESSION, session)
    query, order = _libpq_statement(sql)
    tx = session.transformer
    params = tx.dump_sequence([values[k] for k in order], [PyFormat.AUTO] * len(order))
    types, formats = tuple(tx.types or ()), tx.formats
    pgconn = driver.pgconn
    if driver.prepare_threshold is None:  # behind a pooler in transaction mode: none prepared
        result = _checked(session, pgconn, pgconn.exec_params(query, params, types, formats))
    else:
        name = _statement_name(sql, types)
        result = _prepared(session, pgconn, (name, query, types), params, formats)
    rows = result.command_tuples
    count = -1 if rows is None else rows
    if not fetch:
        return count, None, None
    tx.set_pgresult(result)
    if every:
        found: Any = tx.load_rows(0, result.ntuples, tuple)
    else:
        found = tx.load_row(0, tuple) if result.ntuples else None
    columns = None
    if describe and result.nfields:
        encoding = session.encoding
        columns = [(result.fname(i).decode(encoding),) for i in range(result.nfields)]
    return count, found, columns


def _prepared(
    session: _Session,
    pgconn: Any,
    statement: tuple[bytes, bytes, tuple[int, ...]],
    params: Any,
    formats: Any,
) -> Any:
    """Run prepared statement ``name``, prepared first if this connection has not yet; once
    again if the server had dropped it (psycopg's DEALLOCATE ALL after a rollback) or its plan
    went stale (a migration): nothing ran then, and the connection is in autocommit.
    ``statement``: its name, SQL and parameter types."""
    name, query, types = statement
    for last in (False, True):
        if name not in session.prepared:
            if len(session.prepared) >= PREPARED_MAX:
                return _checked(session, pgconn, pgconn.exec_params(query, params, types, formats))
            _checked(session, pgconn, pgconn.prepare(name, query, types))
            session.prepared.add(name)
        result = pgconn.exec_prepared(name, params, formats)
        if last or result.status != pq.ExecStatus.FATAL_ERROR:
            break
        state = result.error_field(pq.DiagnosticField.SQLSTATE)
        if state == _STALE:
            message = result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b""
            if not message.startswith(b"cached plan must not change result type"):
                break
        elif state != _DROPPED:
            break
        if state == _DROPPED:
            # Dropped with every other (DEALLOCATE ALL): each of the others fails the same way at
            # its next use, and is prepared again then. Some may have been prepared since.
            session.prepared.discard(name)
        else:
            _deallocate(session, pgconn, name)
    return _checked(session, pgconn, result)


def _deallocate(session: _Session, pgconn: Any, name: bytes) -> None:
    session.prepared.discard(name)
    _checked(session, pgconn, pgconn.exec_(b"DEALLOCATE " + name))


def _checked(session: _Session, pgconn: Any, result: Any) -> Any:
    """``result``, or the error psycopg's cursor would raise for it: a connection broken on the
    client's side (no SQLSTATE) as an ``OperationalError``, as psycopg's wait loop raises it."""
    status = result.status
    if status == pq.ExecStatus.TUPLES_OK or status == pq.ExecStatus.COMMAND_OK:
        return result
    if status != pq.ExecStatus.FATAL_ERROR:
        raise psycopg.InternalError(f"unexpected result status: {pq.ExecStatus(status).name}")
    if pgconn.status == pq.ConnStatus.BAD or not result.error_field(pq.DiagnosticField.SQLSTATE):
        raise psycopg.OperationalError(result.get_error_message(session.encoding))
    raise psycopg_errors.error_from_result(result, encoding=session.encoding)
