"""Statements run alone (``saoma.db.alone``): each commits on its own, its connection goes back
to the pool as the pool keeps it, and one lost meanwhile is answered as the database being away
and is never handed out again."""

from __future__ import annotations

import warnings

import pytest
from sqlalchemy import bindparam, create_engine, func, insert, literal, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from saoma.db import Bare, alone, database_unavailable
from saoma.paycode.tables import paycode_failures

_WRITE = Bare(
    insert(paycode_failures).values(
        terminal=bindparam("t"), window_start_us=0, failures=0, pending=0, pending_since_us=0
    )
)
_ONE = Bare(select(literal(1).label("one")))
_BACKEND = Bare(select(func.pg_backend_pid().label("pid")))


def terminals(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT terminal FROM paycode_failures")).scalars())


def test_a_write_alone_commits_and_its_connection_goes_back_as_the_pool_keeps_it(
    engine: Engine,
) -> None:
    with alone(engine, writes=True) as conn:
        assert _WRITE.run(conn, {"t": "alone"}) == 1
    assert terminals(engine) == ["alone"]  # committed on its own
    assert engine.pool.checkedout() == 0
    # The next transaction on the pool's connections is one: rolled back, it leaves nothing.
    with engine.connect() as conn:
        conn.execute(_WRITE.statement, {"t": "rolled back"})
        conn.rollback()
    assert terminals(engine) == ["alone"]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_connection_lost_alone_is_the_database_away_and_is_not_kept(
    engine: Engine, db_url: str
) -> None:
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no complaint from the pool on the way
            with alone(engine, writes=False) as conn:
                pid = _BACKEND.first(conn, {}).pid
                with admin.connect() as other:
                    other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                with pytest.raises(DBAPIError) as lost:
                    _ONE.first(conn, {})
        assert lost.value.connection_invalidated and database_unavailable(lost.value)
        assert engine.pool.checkedout() == 0
        with alone(engine, writes=False) as conn:  # a new connection, not the lost one
            assert _BACKEND.first(conn, {}).pid != pid
            assert _ONE.first(conn, {}).one == 1
    finally:
        admin.dispose()
