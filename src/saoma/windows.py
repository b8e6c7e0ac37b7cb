"""Tries counted in a fixed window, one row per key: a try is claimed with one conditional upsert.

The row's window starts at the first try; a try is counted while fewer than ``limit`` were counted
in the window, or when the window has run out (it starts again with this try). Concurrent tries can
never pass more than ``limit`` in a window, on SQLite and PostgreSQL alike. Used for guessing
payment codes (per terminal and merchant) and for looking up who has a wallet (per consumer).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, case
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from saoma.db import is_sqlite


def claim_statement(
    engine: Engine,
    table: Table,
    key: str,
    limit: int,
    window_us: int,
    now: int,
    *,
    key_column: str,
    count_column: str,
    start_column: str = "window_start_us",
) -> Any:
    """The upsert claiming one try for ``key``: it returns the window's start when the try is
    counted, no row when ``limit`` tries were counted in the window already."""
    count, start = table.c[count_column], table.c[start_column]
    upsert = (sqlite_insert if is_sqlite(engine) else pg_insert)(table).values(
        {key_column: key, start_column: now, count_column: 1}
    )
    expired = start <= now - window_us
    return upsert.on_conflict_do_update(
        index_elements=[table.c[key_column]],
        set_={
            count_column: case((expired, 1), else_=count + 1),
            start_column: case((expired, now), else_=start),
        },
        where=expired | (count < limit),
    ).returning(start)
