"""Statements that commit on their own go to libpq directly (``saoma.libpq``): the same answers
and errors as psycopg's cursor, prepared once per connection, and never inside a transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import bindparam, create_engine, literal, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, ProgrammingError

from saoma import libpq
from saoma.db import Bare, _on_driver, alone, driver_write, make_engine, write
from saoma.paycode.tables import paycode_failures

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)

_KINDS = Bare(
    select(
        bindparam("small").label("small"),
        bindparam("big").label("big"),
        bindparam("word").label("word"),
        bindparam("raw").label("raw"),
        bindparam("yes").label("yes"),
        bindparam("nothing").label("nothing"),
        (bindparam("big") - literal(1)).label("less"),
        literal("100%").label("percent"),
    )
)
_VALUES = {
    "small": 7,
    "big": 2**62,
    "word": "扫码 ok",
    "raw": b"\x00\xff",
    "yes": True,
    "nothing": None,
}
_WRITE = Bare(
    paycode_failures.insert().values(
        terminal=bindparam("t"), window_start_us=0, failures=0, pending=0, pending_since_us=0
    )
)
_TERMINALS = Bare(select(paycode_failures.c.terminal).order_by(paycode_failures.c.terminal))
_PREPARED = "SELECT name FROM pg_prepared_statements WHERE name LIKE 'saoma%%'"


@pytest.fixture
def single(db_url: str) -> Iterator[Engine]:
    """An engine of one connection: every statement of a test on the same one."""
    engine = create_engine(db_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def prepared_here(conn: Any) -> list[str]:
    """The statements this process prepared on ``conn``'s server connection."""
    return sorted(n for (n,) in conn.connection.driver_connection.execute(_PREPARED))


def test_an_answer_alone_is_what_psycopgs_cursor_gives(engine: Engine) -> None:
    with engine.connect() as conn:  # through SQLAlchemy and psycopg's cursor: the reference
        expected = tuple(conn.execute(_KINDS.statement, _VALUES).one())
    with alone(engine, writes=False) as conn:
        assert libpq.ready(conn.connection.driver_connection, "SELECT %(a)s", _VALUES)
        for _ in range(3):  # prepared at the first, then run prepared
            row = _KINDS.first(conn, _VALUES)
            assert tuple(row) == expected
            assert expected == (7, 2**62, "扫码 ok", b"\x00\xff", True, None, 2**62 - 1, "100%")
            assert row.word == "扫码 ok" and row.nothing is None
        assert len(prepared_here(conn)) == 1


_EVERY_KIND = (
    "SELECT %(ints)s::int8[] AS ints, %(words)s::text[] AS words, %(at)s::timestamptz AS at,"
    " %(amount)s::numeric AS amount, %(doc)s::jsonb AS doc, %(day)s::date AS day,"
    " %(n)s AS n, %(n)s + 1 AS n1, 'a%%b' AS percent, %(odd-name)s AS odd"
)


def test_every_kind_of_value_and_answer_is_psycopgs_cursors_on_the_same_connection(
    engine: Engine,
) -> None:
    values = {
        "ints": [1, None, 2**40],
        "words": ["x", None, "扫码"],
        "at": datetime(2026, 12, 8, 1, 2, 3, 456789, tzinfo=UTC),
        "amount": Decimal("12.34"),
        "doc": '{"a": [1, 2]}',
        "day": date(2026, 12, 8),
        "n": 41,
        "odd-name": "psycopg takes any name without a parenthesis",
    }
    with alone(engine, writes=False) as conn:
        driver = conn.connection.driver_connection
        assert libpq.ready(driver, _EVERY_KIND, values) is not None
        with driver.cursor() as cursor:  # the reference: psycopg's cursor, this connection
            expected = cursor.execute(_EVERY_KIND, values).fetchall()
            names = [c.name for c in cursor.description]
        for _ in range(2):  # prepared, then run prepared
            _, found, columns = _on_driver(
                conn, _EVERY_KIND, values, True, every=True, describe=True
            )
            assert found == expected
            assert [c[0] for c in columns] == names
        assert expected[0][0] == [1, None, 2**40] and expected[0][-2] == "a%b"


def test_what_libpq_would_run_differently_is_left_to_psycopgs_cursor(engine: Engine) -> None:
    with alone(engine, writes=True) as conn:
        driver = conn.connection.driver_connection
        for sql in ("SELECT 1; SELECT 2", "SELECT %s", "SELECT '100%' AS p", "SELECT %(a)b"):
            assert libpq.ready(driver, sql, {"a": 1}) is None, sql
        # Two statements in one: psycopg sends SQL without parameters as a simple query.
        assert driver_write(conn, "SELECT 1; SELECT 2", {}) == 1
        with pytest.raises(ProgrammingError):  # a lone %: psycopg's cursor refuses it
            driver_write(conn, "SELECT '100%' WHERE 1 = %(a)s", {"a": 1})
        assert prepared_here(conn) == []


def test_errors_alone_are_psycopgs_cursors(engine: Engine) -> None:
    with alone(engine, writes=True) as conn:
        with pytest.raises(ProgrammingError, match="query parameter missing: t"):
            driver_write(conn, "SELECT %(t)s", {"u": 1})
        with pytest.raises(ProgrammingError, match="didn't produce records"):
            _WRITE.first(conn, {"t": "a write asked for rows"})
        assert [r.terminal for r in _TERMINALS.all(conn, {})] == ["a write asked for rows"]


def test_the_same_statement_with_other_kinds_of_values_is_prepared_for_each(
    single: Engine,
) -> None:
    with alone(single, writes=False) as conn:
        small = _KINDS.first(conn, _VALUES | {"big": 5})
        big = _KINDS.first(conn, _VALUES)
        null = _KINDS.first(conn, _VALUES | {"small": None})
        assert (small.big, small.less) == (5, 4)
        assert (big.big, big.less) == (2**62, 2**62 - 1)
        assert (null.small, null.big) == (None, 2**62)
        assert len(prepared_here(conn)) == 3  # one per kinds of the parameters' values


def test_writes_alone_commit_and_count_their_rows(engine: Engine) -> None:
    with alone(engine, writes=True) as conn:
        assert _WRITE.run(conn, {"t": "a"}) == 1
        assert driver_write(conn, "DELETE FROM paycode_failures WHERE terminal LIKE 'z%%'", {}) == 0
        assert [r.terminal for r in _TERMINALS.all(conn, {})] == ["a"]
        with pytest.raises(IntegrityError):  # the key taken: as psycopg's cursor raises it
            _WRITE.run(conn, {"t": "a"})
        assert _WRITE.run(conn, {"t": "b"}) == 1  # the connection goes on after an error
    with engine.connect() as other:
        assert list(
            other.execute(text("SELECT terminal FROM paycode_failures ORDER BY 1")).scalars()
        ) == ["a", "b"]


def test_a_write_in_a_transaction_never_commits_on_its_own(engine: Engine) -> None:
    with pytest.raises(RuntimeError), write(engine) as conn:
        assert not libpq.ready(conn.connection.driver_connection, "SELECT %(t)s", {"t": "x"})
        _WRITE.run(conn, {"t": "rolled back"})
        raise RuntimeError("the request failed after its write")
    with alone(engine, writes=False) as conn:
        assert _TERMINALS.all(conn, {}) == []


def test_statements_dropped_by_the_server_are_prepared_again(single: Engine) -> None:
    with alone(single, writes=True) as conn:
        assert _KINDS.first(conn, _VALUES).small == 7
        # What psycopg sends after a rollback when it had prepared statements of its own.
        conn.connection.driver_connection.execute("DEALLOCATE ALL")
        assert prepared_here(conn) == []
        assert _WRITE.run(conn, {"t": "after"}) == 1  # prepared before the next is seen gone
        assert _KINDS.first(conn, _VALUES).small == 7
        assert _WRITE.run(conn, {"t": "again"}) == 1
        assert len(prepared_here(conn)) == 2


def test_a_statement_the_server_has_already_is_kept(single: Engine) -> None:
    with alone(single, writes=False) as conn:
        assert _KINDS.first(conn, _VALUES).small == 7
        getattr(conn.connection.driver_connection, libpq._SESSION).prepared.clear()
        assert _KINDS.first(conn, _VALUES).small == 7  # "already exists": it is ours
        assert len(prepared_here(conn)) == 1


def test_a_statement_whose_plan_went_stale_is_prepared_again(single: Engine) -> None:
    read = Bare(text("SELECT v FROM libpq_stale WHERE v IS NOT NULL OR :any"))
    with alone(single, writes=True) as conn:
        driver = conn.connection.driver_connection
        driver.execute("CREATE TEMP TABLE libpq_stale (v int4)")
        driver.execute("INSERT INTO libpq_stale VALUES (1)")
        assert read.first(conn, {"any": True}).v == 1
        driver.execute("ALTER TABLE libpq_stale ALTER COLUMN v TYPE text")  # a migration
        assert read.first(conn, {"any": True}).v == "1"


def test_what_a_closed_connection_kept_goes_with_it(engine: Engine) -> None:
    with alone(engine, writes=False) as conn:
        driver = conn.connection.driver_connection
        assert _KINDS.first(conn, _VALUES).small == 7
        assert hasattr(driver, libpq._SESSION)
    engine.dispose()  # the pool closes its connections
    assert driver.closed and not hasattr(driver, libpq._SESSION)


def test_behind_a_pooler_nothing_is_prepared(db_url: str) -> None:
    engine = make_engine(db_url, pooled=True)  # PgBouncer in transaction mode
    try:
        with alone(engine, writes=False) as conn:
            for _ in range(3):
                assert _KINDS.first(conn, _VALUES).big == 2**62
            assert prepared_here(conn) == []
    finally:
        engine.dispose()


def test_past_the_most_prepared_a_statement_is_sent_unprepared(
    single: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(libpq, "PREPARED_MAX", 1)
    with alone(single, writes=True) as conn:
        assert _KINDS.first(conn, _VALUES).small == 7
        assert _WRITE.run(conn, {"t": "unprepared"}) == 1
        assert [r.terminal for r in _TERMINALS.all(conn, {})] == ["unprepared"]
        assert len(prepared_here(conn)) == 1


def test_an_error_of_the_statement_itself_is_psycopgs(engine: Engine) -> None:
    with alone(engine, writes=False) as conn:
        with pytest.raises(ProgrammingError) as wrong:
            Bare(text("SELECT nope FROM paycode_failures")).first(conn, {})
        assert wrong.value.orig is not None
        assert wrong.value.orig.sqlstate == "42703"  # type: ignore[attr-defined]
        assert _KINDS.first(conn, _VALUES).small == 7
