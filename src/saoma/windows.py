"""Tries counted in a fixed window, one row per key: a try is claimed with one conditional upsert.

The row's window starts at the first try; a try is counted while fewer than ``limit`` were counted
in the window, or when the window has run out (it starts again with this try). Concurrent tries can
never pass more than ``limit`` in a window, on SQLite and PostgreSQL alike. Used for guessing
payment codes (per terminal and merchant) and for looking up who has a wallet (per consumer).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Integer, Table, bindparam, case
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from saoma.db import is_sqlite

_BUILT: dict[tuple[str, str, str, str, str], Any] = {}


def claim_statement(
    engine: Engine,
    table: Table,
    *,
    key_column: str,
    count_column: str,
    start_column: str = "window_start_us",
) -> Any:
    """The upsert claiming one try for the bound ``key``: it returns the window's start when
    the try is counted, no row when ``limit`` tries were counted in the window (``window_us``
    long, as of ``now``) already. Built once per table and database kind: building and keying
    it on every try cost more Python than its round trip (see :func:`claim_params`)."""
    sqlite = is_sqlite(engine)
    shape = (
        "sqlite" if sqlite else "postgresql",
        table.name,
        key_column,
        count_column,
        start_column,
    )
    built = _BUILT.get(shape)
    if built is not None:
        return built
    count, start = table.c[count_column], table.c[start_column]
    now = bindparam("now", type_=BigInteger)
    upsert = (sqlite_insert if sqlite else pg_insert)(table).values(
        {key_column: bindparam("key"), start_column: now, count_column: 1}
    )
    expired = start <= now - bindparam("window_us", type_=BigInteger)
    built = _BUILT[shape] = upsert.on_conflict_do_update(
        index_elements=[table.c[key_column]],
        set_={
            count_column: case((expired, 1), else_=count + 1),
            start_column: case((expired, now), else_=start),
        },
        where=expired | (count < bindparam("limit", type_=Integer)),
    ).returning(start)
    return built


def claim_params(key: str, limit: int, window_us: int, now: int) -> dict[str, Any]:
    """What :func:`claim_statement`'s upsert is run with."""
    return {"key": key, "limit": limit, "window_us": window_us, "now": now}
