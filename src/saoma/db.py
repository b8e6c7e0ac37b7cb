"""Engines, the shared schema metadata and migrations.

Every table of every package registers on ``metadata`` so Alembic sees one schema. The schema is
created only by migrations (``migrate``), never by ``create_all``.
"""

from __future__ import annotations

import collections
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import MetaData, Table, create_engine, event, func, insert, literal, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from saoma import libpq

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Autocommit at the driver level: Saoma issues BEGIN IMMEDIATE itself so that a writer takes
    # the write lock up front instead of failing on upgrade from a read lock.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # The driver runs in autocommit mode (see above), so SQLAlchemy's transactions begin here.
    # A writer takes the write lock at BEGIN (see ``write``); readers never wait for it (WAL).
    immediate = conn.get_execution_options().get("saoma_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def sqlite_write_lock(engine: Engine) -> threading.Lock | None:
    """The lock this process's writers to one SQLite file take before its own write lock.

    SQLite admits one writer at a time; a writer that finds the file locked sleeps in growing
    steps (up to 100 ms) before it tries again. Queueing this process's writers on a Python lock
    first hands the file from one writer to the next at once. PostgreSQL needs none.
    """
    if not is_sqlite(engine):
        return None
    key = str(engine.url)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A write transaction: like ``engine.begin()``, without SQLite's busy-wait sleeps."""
    lock = sqlite_write_lock(engine)
    if lock is None:
        with engine.begin() as conn:
            yield conn
        return
    with lock, engine.connect().execution_options(saoma_write=True) as conn, conn.begin():
        yield conn


def lock_row(conn: Connection, table: str, row_id: str) -> None:
    """Hold row ``row_id`` of ``table`` (a table with an ``id`` key) until the transaction ends.

    For a rule that counts rows under a parent (at most N of something): with the parent's row
    held, a count in a later statement of the transaction sees every row committed before, and
    other writers under the same parent wait their turn. On PostgreSQL, SELECT … FOR NO KEY
    UPDATE (rows that only refer to the parent, such as a wallet's payments, need not wait);
    SQLite's writer holds the whole database already.
    """
    if not is_sqlite(conn.engine):
        lock = f"SELECT id FROM {table} WHERE id = :id FOR NO KEY UPDATE"
        conn.execute(text(lock), {"id": row_id})


def insert_below(
    conn: Connection, table: Table, values: dict[str, Any], counted: Any, most: int
) -> bool:
    """Insert ``values`` into ``table`` unless ``most`` of its rows match ``counted`` already, in
    one statement (INSERT … SELECT … WHERE (SELECT COUNT(*) …) < most); True when the row went
    in. Writers racing under one parent must hold the parent's row first (``lock_row``)."""
    columns = table.c
    row = [literal(v, columns[k].type).label(k) for k, v in values.items()]
    below = select(func.count()).select_from(table).where(counted).scalar_subquery() < most
    made = insert(table).from_select(list(values), select(*row).where(below))
    key = next(iter(table.primary_key.columns))
    return conn.execute(made.returning(key)).first() is not None


class Bare:
    """A statement built with SQLAlchemy, compiled once per dialect and run on the connection's
    driver directly: for the statements every payment makes, without SQLAlchemy's execution and
    result layers (on PostgreSQL a read cost 135–155 µs of CPU this way, 270–320 µs through
    ``Connection.execute``). Rows are named tuples of what the driver returns, which for plain
    columns (text, integers, bytes) is what SQLAlchemy returns too; no expanding parameters.

    A driver's error is raised as SQLAlchemy raises it (an ``IntegrityError`` for a unique key
    taken, say), so callers catch the same exceptions either way. A write runs in the
    connection's transaction: on ``write_one``'s PostgreSQL connection it commits on its own.
    """

    __slots__ = ("_compiled", "_rows", "statement")

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        # By dialect: the SQL, its parameters' order (positional drivers), the statement's own
        # literals, and the parameters a caller must give.
        self._compiled: dict[
            str, tuple[str, tuple[str, ...] | None, dict[str, Any], frozenset[str]]
        ] = {}
        self._rows: dict[str, type] = {}  # the named tuple of the answer's columns, by dialect

    def first(self, conn: Connection | Alone, params: dict[str, Any]) -> Any:
        """The first row (of a SELECT, or a write's RETURNING), or None."""
        return self._run(conn, params, fetch=True)

    def all(self, conn: Connection | Alone, params: dict[str, Any]) -> list[Any]:
        """Every row (of a SELECT, or a write's RETURNING)."""
        return list(self._run(conn, params, fetch=True, every=True))

    def run(self, conn: Connection | Alone, params: dict[str, Any]) -> int:
        """Run a write; the number of rows it matched."""
        return int(self._run(conn, params, fetch=False))

    def _run(
        self, conn: Connection | Alone, params: dict[str, Any], *, fetch: bool, every: bool = False
    ) -> Any:
        dialect = conn.dialect.name
        compiled = self._compiled.get(dialect)
        if compiled is None:
            done = self.statement.compile(dialect=conn.dialect)
            positions = tuple(done.positiontup) if done.positional else None
            required = frozenset(k for k, b in done.binds.items() if b.required)
            literals = {k: v for k, v in done.params.items() if k not in required}
            compiled = self._compiled[dialect] = (done.string, positions, literals, required)
        sql, positions, values, required = compiled
        if not required <= params.keys():  # as SQLAlchemy: no NULL for a value not given
            missing = ", ".join(sorted(required - params.keys()))
            raise ArgumentError(f"a value is required for the parameters {missing}")
        values = values | params  # the statement's own literals, then the caller's values
        row = self._rows.get(dialect)
        answer = _on_driver(
            conn,
            sql,
            [values[p] for p in positions] if positions else values,
            fetch,
            every=every,
            describe=fetch and row is None,  # the columns' names, read once per dialect
        )
        if not fetch:
            return answer[0]
        _, found, description = answer
        if row is None and description is not None:
            row = self._rows[dialect] = collections.namedtuple("Row", [c[0] for c in description])
        if found is None:
            return None
        assert row is not None
        return [row(*one) for one in found] if every else row(*found)


def named_postgres(statement: Any) -> tuple[str, dict[str, Any]]:
    """``statement`` as PostgreSQL SQL with ``:name`` parameters (what a ledger hook's
    :class:`~saoma.ledger.tx.Tx` runs), and the values of the statement's own literals."""
    from sqlalchemy.dialects.postgresql import psycopg as postgresql

    done = statement.compile(dialect=postgresql.dialect(paramstyle="named"))  # type: ignore[no-untyped-call]
    literals = {k: v for k, v in done.params.items() if not done.binds[k].required}
    return done.string, literals


def driver_write(conn: Connection | Alone, sql: str, params: dict[str, Any]) -> int:
    """Run ``sql`` (one write in the driver's own parameter style) on ``conn``'s driver
    connection, with a driver's error raised as SQLAlchemy raises it, as :class:`Bare` does;
    the number of rows it matched."""
    return int(_on_driver(conn, sql, params, False)[0])


def _on_driver(
    conn: Connection | Alone,
    sql: str,
    values: Any,
    fetch: bool,
    *,
    every: bool = False,
    describe: bool = False,
) -> tuple[int, Any, Any]:
    """The row count, the first row (if ``fetch``; every row, as a list, if ``every`` too) and,
    if ``describe``, the columns of ``sql`` run on the driver (psycopg builds them anew each
    time they are asked for). A statement that commits on its own on PostgreSQL goes to libpq
    directly (:func:`saoma.libpq.run`)."""
    pooled = conn.connection
    driver: Any = pooled.driver_connection
    try:
        statement = libpq.ready(driver, sql, values)
        if statement is not None:
            return libpq.run(
                driver, statement, sql, values, fetch=fetch, every=every, describe=describe
            )
        cursor = driver.cursor()
        try:
            cursor.execute(sql, values)
            if not fetch:
                return cursor.rowcount, None, None
            found = cursor.fetchall() if every else cursor.fetchone()
            return cursor.rowcount, found, cursor.description if describe else None
        finally:
            cursor.close()
    except conn.dialect.loaded_dbapi.Error as exc:
        lost = database_unavailable(exc)
        if lost:
            # As SQLAlchemy's own handling of a lost connection: the pool drops every
            # connection made before this one (they lead to the same lost server), and this
            # one at once.
            conn.engine.pool._invalidate(pooled, exc)
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql,
            values,
            exc,
            conn.dialect.loaded_dbapi.Error,
            hide_parameters=conn.engine.hide_parameters,
            connection_invalidated=lost,
            dialect=conn.dialect,
        ) from exc


_READERS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def read(engine: Engine) -> Connection:
    """A connection for reads that need no transaction around them.

    On PostgreSQL each statement then runs on its own (autocommit): one round trip, where
    ``engine.connect()`` costs BEGIN, the statement and a ROLLBACK — and that ROLLBACK also makes
    psycopg drop the connection's prepared statements. Each statement sees the data committed
    when it starts, as under READ COMMITTED. Not for SELECT … FOR UPDATE, nor for writes.
    SQLite (whose driver Saoma already runs in autocommit mode) gets a plain connection.
    """
    if is_sqlite(engine):
        return engine.connect()
    reader = _READERS.get(engine)
    if reader is None:
        reader = _READERS.setdefault(engine, engine.execution_options(isolation_level="AUTOCOMMIT"))
    return reader.connect()


@contextmanager
def write_one(engine: Engine) -> Iterator[Connection]:
    """For a write that is a single statement: on PostgreSQL the statement commits on its own,
    one round trip instead of BEGIN, the statement and COMMIT. On SQLite, exactly ``write``."""
    if is_sqlite(engine):
        with write(engine) as conn:
            yield conn
        return
    with read(engine) as conn:
        yield conn


class Alone:
    """A pooled PostgreSQL connection in autocommit, for :class:`Bare` statements and
    :func:`driver_write` run on their own (``alone``): what they use of a SQLAlchemy
    ``Connection``, without one."""

    __slots__ = ("connection", "dialect", "engine")

    def __init__(self, engine: Engine, pooled: Any) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.connection = pooled

    def invalidate(self, exc: BaseException) -> None:
        if self.connection.is_valid:  # the pool's own invalidation may have closed it already
            self.connection.invalidate(exc)


@contextmanager
def alone(engine: Engine, *, writes: bool) -> Iterator[Connection | Alone]:
    """For :class:`Bare` statements (and ``driver_write``) that each commit on their own.

    On PostgreSQL: a connection of the engine's pool, its driver in autocommit while it is
    held, as ``read`` and ``write_one`` give, but without SQLAlchemy's ``Connection`` around
    it: that one's isolation level, set at every checkout and reset at every return, cost
    50–70 µs of CPU per statement more (``bench/driver.py``). A connection lost meanwhile is
    dropped with the pool's others, as by ``Bare`` in a ``Connection``. On SQLite:
    ``write_one`` if it ``writes``, else ``read``.
    """
    if is_sqlite(engine):
        with write_one(engine) if writes else read(engine) as conn:
            yield conn
        return
    pooled = engine.raw_connection()
    driver: Any = pooled.driver_connection
    kept = driver.autocommit  # as the pool keeps it (off: SQLAlchemy begins its transactions)
    try:
        driver.autocommit = True
    except psycopg.Error as exc:  # a connection found broken: never handed out again
        pooled.invalidate(exc)
        pooled.close()
        raise DBAPIError.instance(
            "autocommit", None, exc, psycopg.Error, connection_invalidated=True
        ) from exc
    try:
        yield Alone(engine, pooled)
    finally:
        try:
            if not pooled.is_valid:
                pass  # dropped already (a lost connection): nothing to give back
            elif driver.closed:  # broken in a way not taken for a lost server: never reused
                pooled.invalidate()
            else:
                driver.autocommit = kept
        except Exception as exc:  # a connection in a state nobody should reuse
            pooled.invalidate(exc)
        finally:
            pooled.close()  # back to the pool


def make_engine(url: str, *, pool_size: int = 8, pooled: bool = False) -> Engine:
    """An engine for ``url``; SQLite files get WAL and a busy timeout, folders are created.

    ``pooled``: ``url`` goes through a pooler in transaction mode (PgBouncer), which may hand
    each transaction to another server connection, so psycopg prepares no statement there.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if path and path != ":memory:":
            # Connections are kept: opening one costs more than most of Saoma's statements.
            engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)
        else:
            engine = create_engine(url, poolclass=NullPool)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # No pre-ping (a round trip on every checkout, several per payment): the first use of a
    # connection to a lost primary fails, the request is answered 503 database-unavailable, and
    # SQLAlchemy's disconnect handling then drops every connection of the pool made before it,
    # so the next requests connect to the new primary.
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=3600,
        connect_args=_connect_args(url, pooled=pooled),
    )
    for closed in ("close", "close_detached"):  # what saoma.libpq kept of a connection
        event.listen(engine.pool, closed, libpq.forget)
    return engine


# A node that vanished (a machine lost, not only its process) fails a connection within seconds
# instead of leaving a request hanging on it; the URL's own values win.
PG_CONNECT_ARGS: dict[str, Any] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


def _connect_args(url: str, *, pooled: bool) -> dict[str, Any]:
    """Keepalives and timeouts; behind PgBouncer in transaction mode (``pooled``), no prepared
    statements: the next transaction may run on another server connection."""
    query = make_url(url).query
    args = {k: v for k, v in PG_CONNECT_ARGS.items() if k not in query}
    return args | ({"prepare_threshold": None} if pooled else {})


# SQLSTATEs of a server going away or not taking writes: 57P01-57P03 (shutting down, cannot
# connect now), 08xxx (connection exceptions), 25006 (read-only: a standby).
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03", "25006")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the PostgreSQL database is away (down, failing over, a standby).

    The request can be tried again shortly; if it was at COMMIT its outcome is unknown, and a
    retry with its Idempotency-Key finds out (a commit acknowledged is on the standby too).
    """
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate or ""
    if state.startswith("08") or state in _UNAVAILABLE_STATES:
        return True
    # No SQLSTATE: the connection failed or broke on the client's side.
    return not state and isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (creating a SQLite file if needed)."""
    from alembic import command

    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")


def load_models() -> None:
    """Import every package that defines tables, so ``metadata`` is complete."""
    import importlib

    for name in (
        "saoma.ledger.tables",
        "saoma.paycode.tables",
        "saoma.payments.tables",
        "saoma.funding.tables",
        "saoma.settlement.tables",
        "saoma.webhooks.tables",
        "saoma.merchants.tables",
        "saoma.promotions.tables",
        "saoma.p2p.tables",
        "saoma.wallets.tables",
        "saoma.messaging.tables",
        "saoma.audit.tables",
        "saoma.operators.tables",
        "saoma.freezes.tables",
        "saoma.kyc.tables",
        "saoma.disputes.tables",
    ):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size``: bound parameters per statement have limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
