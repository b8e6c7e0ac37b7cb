"""Statements that commit on their own, sent to libpq directly instead of through psycopg's cursor.

psycopg's cursor spent 25-35 µs of CPU per statement more in Python (a new cursor, the query's
conversion, its prepared statements' bookkeeping, the wait loop) than the same statement's
parameters dumped and its rows loaded by psycopg's own C adapters around one ``PQexecPrepared``,
which gives up the GIL while it waits (bench/driver.py). Used by ``saoma.db`` for the
statements Saoma runs alone (``Bare`` and ``driver_write`` on a connection in autocommit, with
``%(name)s`` parameters); the answers and the errors are psycopg's cursor's. Anything else is
left to the cursor (:func:`ready`).

Each connection prepares each statement, by its parameters' types, at its first use; the names
are this process's own (psycopg's are ``_pg3_N``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import errors as psycopg_errors
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer

# psycopg's own placeholders: ``%(name)s`` (any name without ``)``) and ``%%``. Any other use of
# ``%`` (``%s``, ``%(name)b``, a lone ``%``) is left to psycopg's cursor, which answers it.
_PARAM = re.compile(r"%\(([^)]+)\)s|%%|%")
# SQL and its encoding: the statement as libpq's (``$1``) and its parameters' names in order, or
# None where psycopg's cursor must run it.
_STATEMENTS: dict[tuple[str, str], tuple[bytes, tuple[str, ...]] | None] = {}
_NAMES: dict[tuple[str, tuple[int, ...]], bytes] = {}  # SQL and parameter types: the name
_NAMES_LOCK = threading.Lock()
PREPARED_MAX = 256  # statements prepared per connection; beyond them, sent unprepared
_DROPPED = b"26000"  # no such prepared statement (the server's DEALLOCATE ALL)
_TAKEN = b"42P05"  # a prepared statement of that name exists
_STALE = b"0A000"  # from RevalidateCachedQuery: a table changed under a prepared statement
_STALE_SOURCE = b"RevalidateCachedQuery"  # the source, whatever the server's language


class _Session:
    """What this process keeps of one PostgreSQL connection for :func:`run`."""

    __slots__ = ("encoding", "prepared", "transformer")

    def __init__(self, driver: Any) -> None:
        self.transformer = Transformer(driver)
        self.prepared: set[bytes] = set()
        self.encoding: str = driver.info.encoding


# Kept on the connection itself, and taken off when the pool closes it (``forget``): its
# transformer refers to the connection, and a connection made before ``gc.freeze`` would
# otherwise never be freed.
_SESSION = "_saoma_libpq"


def forget(driver: Any, *_: Any) -> None:
    """A pool's ``close`` and ``close_detached`` listener: drop what :func:`run` kept."""
    kept = getattr(driver, "__dict__", None)
    if kept is not None:
        kept.pop(_SESSION, None)


def ready(driver: Any, sql: str, values: Any) -> tuple[bytes, tuple[str, ...]] | None:
    """``sql`` as libpq runs it (see ``_STATEMENTS``) if it can go to libpq directly on
    ``driver``: a psycopg connection in autocommit with no transaction open and no pipeline
    (the statement commits on its own), named parameters and at least one (without any,
    psycopg sends the SQL as a simple query). Else None: psycopg's cursor runs it (a
    transaction psycopg begins, SQLite)."""
    if not (
        isinstance(driver, psycopg.Connection)
        and type(values) is dict
        and driver.autocommit
        and driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
        and not driver.pgconn.pipeline_status
    ):
        return None
    encoding = _session(driver).encoding
    try:
        return _STATEMENTS[sql, encoding]
    except KeyError:
        found = _STATEMENTS[sql, encoding] = _libpq_statement(sql, encoding)
        return found


def _session(driver: Any) -> _Session:
    session: _Session | None = getattr(driver, _SESSION, None)
    if session is None:
        session = _Session(driver)
        setattr(driver, _SESSION, session)
    return session


def _libpq_statement(sql: str, encoding: str) -> tuple[bytes, tuple[str, ...]] | None:
    order: list[str] = []
    other = False

    def number(match: re.Match[str]) -> str:
        nonlocal other
        name, whole = match.group(1), match.group(0)
        if name is None:
            other = other or whole == "%"
            return "%"
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    query = _PARAM.sub(number, sql)
    if other or not order:
        return None
    return query.encode(encoding), tuple(order)


def _statement_name(sql: str, types: tuple[int, ...]) -> bytes:
    name = _NAMES.get((sql, types))
    if name is None:
        with _NAMES_LOCK:
            name = _NAMES.setdefault((sql, types), f"saoma_{len(_NAMES)}".encode())
    return name


def run(
    driver: Any,
    statement: tuple[bytes, tuple[str, ...]],
    sql: str,
    values: dict[str, Any],
    *,
    fetch: bool,
    every: bool,
    describe: bool,
) -> tuple[int, Any, Any]:
    """``saoma.db._on_driver`` for a statement that commits on its own (``statement``: what
    :func:`ready` gave for ``sql``): the same answer, and the same psycopg errors, as
    psycopg's cursor gives."""
    session = _session(driver)
    query, order = statement
    try:
        given = [values[k] for k in order]
    except KeyError as missing:
        raise psycopg.ProgrammingError(f"query parameter missing: {missing.args[0]}") from None
    tx = session.transformer
    params = tx.dump_sequence(given, [PyFormat.AUTO] * len(order))
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
    if result.status != pq.ExecStatus.TUPLES_OK:
        status = (result.command_status or b"").decode(session.encoding, "replace")
        raise psycopg.ProgrammingError(
            f"the last operation didn't produce records (command status: {status})"
        )
    tx.set_pgresult(result)
    try:
        if every:
            found: Any = tx.load_rows(0, result.ntuples, tuple)
        else:
            found = tx.load_row(0, tuple) if result.ntuples else None
    finally:
        tx.set_pgresult(None)  # an idle connection keeps no answer
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
            _prepare(session, pgconn, statement)
        result = pgconn.exec_prepared(name, params, formats)
        if last or result.status != pq.ExecStatus.FATAL_ERROR:
            break
        gone = _gone(result)
        if gone == _DROPPED:
            # Dropped with every other (DEALLOCATE ALL): each of the others fails the same way at
            # its next use, and is prepared again then. Some may have been prepared since.
            session.prepared.discard(name)
        elif gone == _STALE:
            session.prepared.discard(name)
            _checked(session, pgconn, pgconn.exec_(b"DEALLOCATE " + name))
        else:
            break
    return _checked(session, pgconn, result)


def _prepare(
    session: _Session, pgconn: Any, statement: tuple[bytes, bytes, tuple[int, ...]]
) -> None:
    """Prepare ``statement`` on this connection. One of its name there already is this very
    statement (names are this process's, one per SQL and parameter types): it is kept."""
    name, query, types = statement
    result = pgconn.prepare(name, query, types)
    if result.error_field(pq.DiagnosticField.SQLSTATE) != _TAKEN:  # no SQLSTATE when it went in
        _checked(session, pgconn, result)
    session.prepared.add(name)


def _gone(result: Any) -> bytes | None:
    """Whether a failed run of a prepared statement failed because the statement is gone
    (``_DROPPED``) or stale (``_STALE``) rather than for what it does: then it did nothing. A
    statement whose own SQL fails with 26000 is taken for gone too: prepared again, it is found
    there already (``_prepare``) and fails the same way, and that error is raised."""
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    if state == _DROPPED:
        return _DROPPED
    if state == _STALE:
        source = result.error_field(pq.DiagnosticField.SOURCE_FUNCTION)
        return _STALE if source == _STALE_SOURCE else None
    return None


def _checked(session: _Session, pgconn: Any, result: Any) -> Any:
    """``result``, or the error psycopg's cursor would raise for it: a connection broken on the
    client's side (no SQLSTATE) as an ``OperationalError``, as psycopg's wait loop raises it."""
    status = result.status
    if status in _ANSWERED:
        return result
    if status != pq.ExecStatus.FATAL_ERROR:
        raise psycopg.InternalError(f"unexpected result status: {pq.ExecStatus(status).name}")
    if pgconn.status == pq.ConnStatus.BAD or not result.error_field(pq.DiagnosticField.SQLSTATE):
        raise psycopg.OperationalError(result.get_error_message(session.encoding))
    raise psycopg_errors.error_from_result(result, encoding=session.encoding)


_ANSWERED = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK, pq.ExecStatus.EMPTY_QUERY)


def int_array(values: list[int] | list[int | None]) -> str:
    """A PostgreSQL array literal of plain integers (None is NULL), for a parameter cast to an
    array (``%(ids)s::int8[]``): the server reads it, where psycopg's list dumper, in Python,
    cost about 2.5 µs of CPU per list more."""
    if None in values:
        return "{" + ",".join(["NULL" if v is None else str(v) for v in values]) + "}"
    return "{" + ",".join(map(str, values)) + "}"


def text_array(values: Iterable[str | None]) -> str:
    """A PostgreSQL array literal of strings, each quoted (None is NULL)."""
    return (
        "{"
        + ",".join(
            [
                "NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                for v in values
            ]
        )
        + "}"
    )
