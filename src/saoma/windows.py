"""Tries counted in a fixed window, one row per key: a try is claimed with one conditional upsert.

The row's window starts at the first try; a try is counted while fewer than ``limit`` were counted
in the window, or when the window has run out (it starts again with this try). Concurrent tries can
never pass more than ``limit`` in a window, on SQLite and PostgreSQL alike. Used for guessing
payment codes (per terminal and merchant) and for looking up who has a wallet (per consumer).

A window may also count the tries under way apart (``pending_column``): a try is then claimed
while the tries counted and those under way are fewer than ``limit`` together, and its owner
settles it as counted or not (:func:`settle_statement`). A caller refused while tries are under
way may wait for one to be settled; one refused with none under way knows at once that the
window is used up. Tries a process left under way when it died are forgotten once no try was
claimed for ``PENDING_STALE_US``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Integer, Table, bindparam, case, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from saoma.db import is_sqlite

_BUILT: dict[tuple[str, ...], Any] = {}
E = TypeVar("E")
PENDING_STALE_US = 10 * 1_000_000  # a try under way this long without another claim was lost


def claim_statement(
    engine: Engine,
    table: Table,
    *,
    key_column: str,
    count_column: str,
    start_column: str = "window_start_us",
    pending_column: str | None = None,
) -> Any:
    """The upsert claiming one try for the bound ``key``: it returns the window's start when
    the try is counted, no row when ``limit`` tries were counted in the window (``window_us``
    long, as of ``now``) already. Built once per table and database kind: building and keying
    it on every try cost more Python than its round trip (see :func:`claim_params`).

    With ``pending_column`` (and ``<pending_column>_since_us``, when the last try was claimed),
    the try is claimed as under way, not counted (see the module's docstring)."""
    dialect = "sqlite" if is_sqlite(engine) else "postgresql"
    shape = (dialect, table.name, key_column, count_column, start_column, pending_column or "")
    built = _BUILT.get(shape)
    if built is None:
        columns = (key_column, count_column, start_column, pending_column)
        built = _BUILT[shape] = _upsert(dialect, table, columns, ("key", "limit"))
    return built


def _upsert(
    dialect: str,
    table: Table,
    columns: tuple[str, str, str, str | None],
    names: tuple[str, str],
    only_if: Any = None,
) -> Any:
    """:func:`claim_statement`'s upsert, its key and limit bound as ``names``; with ``only_if``
    (PostgreSQL), it claims nothing unless that condition holds."""
    key_column, count_column, start_column, pending_column = columns
    count, start = table.c[count_column], table.c[start_column]
    now = bindparam("now", type_=BigInteger)
    limit = bindparam(names[1], type_=Integer)
    expired = start <= now - bindparam("window_us", type_=BigInteger)
    counted = case((expired, 0), else_=count)
    first: dict[str, Any] = {key_column: bindparam(names[0]), start_column: now, count_column: 1}
    changes: dict[str, Any] = {
        count_column: counted + 1,
        start_column: case((expired, now), else_=start),
    }
    room = counted < limit
    if pending_column is not None:
        pending, since = table.c[pending_column], table.c[pending_column + "_since_us"]
        under_way = case((since < now - PENDING_STALE_US, 0), else_=pending)
        first |= {count_column: 0, pending_column: 1, since.name: now}
        changes = {
            count_column: counted,
            start_column: changes[start_column],
            pending_column: under_way + 1,
            since.name: now,
        }
        room = counted + under_way < limit
    upsert = (sqlite_insert if dialect == "sqlite" else pg_insert)(table)
    if only_if is None:
        upsert = upsert.values(first)
    else:
        row = select(
            *(literal(v).label(k) if isinstance(v, int) else v.label(k) for k, v in first.items())
        ).where(only_if)
        upsert = upsert.from_select(list(first), row)
    return upsert.on_conflict_do_update(
        index_elements=[table.c[key_column]], set_=changes, where=room
    ).returning(start)


@cache
def claim_pair_statement(
    table: Table, *, key_column: str, count_column: str, pending_column: str
) -> Any:
    """PostgreSQL: two tries claimed under way by one statement, for the bound ``key`` (within
    ``limit``) and then, only if that one was claimed, for ``key2`` (within ``limit2``), in the
    same ``window_us`` as of ``now``. It answers how many of each it claimed (0 or 1); a caller
    whose second claim was refused gives the first back. One round trip where a transaction of
    two upserts took four; the first key's row is locked before the second's, as there."""
    columns = (key_column, count_column, "window_start_us", pending_column)
    first = _upsert("postgresql", table, columns, ("key", "limit")).cte("claimed_first")
    only_if = select(first.c[0]).exists()
    second = _upsert("postgresql", table, columns, ("key2", "limit2"), only_if).cte(
        "claimed_second"
    )
    return select(
        select(func.count()).select_from(first).scalar_subquery().label("first"),
        select(func.count()).select_from(second).scalar_subquery().label("second"),
    )


@cache
def settle_statement(
    table: Table, key_column: str, count_column: str, pending_column: str, key_param: str = "key"
) -> Any:
    """Settle a try claimed under way for the key bound as ``key_param``: counted when
    ``counted`` is 1, given back when it is 0."""
    c = table.c
    pending = c[pending_column]
    return (
        update(table)
        .where(c[key_column] == bindparam(key_param))
        .values(
            {
                pending_column: case((pending > 0, pending - 1), else_=0),
                count_column: c[count_column] + bindparam("counted", type_=Integer),
            }
        )
    )


@cache
def under_way_statement(
    table: Table, key_column: str, pending_column: str, count_column: str = ""
) -> Any:
    """The tries under way for the bound ``key`` as of the bound ``now`` (0 once stale); with
    ``count_column``, also the tries counted in the window (``window_us`` long, 0 once it has
    run out), so a caller refused a moment ago can tell whether a try is free now."""
    c = table.c
    now = bindparam("now", type_=BigInteger)
    since = c[pending_column + "_since_us"]
    columns = [case((since < now - PENDING_STALE_US, 0), else_=c[pending_column]).label("pending")]
    if count_column:
        expired = c["window_start_us"] <= now - bindparam("window_us", type_=BigInteger)
        columns.append(case((expired, 0), else_=c[count_column]).label("counted"))
    return select(*columns).where(c[key_column] == bindparam("key"))


def claim_params(key: str, limit: int, window_us: int, now: int) -> dict[str, Any]:
    """What :func:`claim_statement`'s upsert is run with."""
    return {"key": key, "limit": limit, "window_us": window_us, "now": now}


def claim_or_wait(
    conn: Connection,
    table: Table,
    *,
    key_column: str,
    count_column: str,
    key: str,
    limit: int,
    window_us: int,
    now: int,
) -> int:
    """Claim one try for ``key`` in ``conn``'s transaction: 0 when it was counted, else how many
    whole seconds (at least 1) until its window ends and the tries may go on."""
    claim = claim_statement(conn.engine, table, key_column=key_column, count_column=count_column)
    if conn.execute(claim, claim_params(key, limit, window_us, now)).first() is not None:
        return 0
    start = conn.execute(select(table.c.window_start_us).where(table.c[key_column] == key)).scalar()
    return max(1, ((start or now) + window_us - now + 999_999) // 1_000_000)


def too_many(error: Callable[..., E], counted: str, limit: int, window_us: int, wait_s: int) -> E:
    """The 429 of a used-up window: ``error`` (a SaomaError) saying ``limit`` ``counted`` (``"wrong
    passwords for this address"``) in the window's minutes and when to try again, with
    ``retry_after_s`` for the Retry-After header."""
    minutes = max(1, window_us // 60_000_000)
    return error(
        f"{limit} {counted} {minutes} minutes: try again in {wait_s} s",
        limit=limit,
        window_s=window_us // 1_000_000,
        retry_after_s=wait_s,
    )
