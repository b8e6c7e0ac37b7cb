"""Cursor pagination shared by every list: strict parsing of what a client sends back.

A list answers ``{"data": [...], "next_cursor": "<digits>" | null}``; the cursor is the last
row's sequence number as decimal ASCII digits. Anything else a client sends (non-ASCII digits
such as ``²`` or ``١``, a sign, more digits than a 63-bit integer holds) is refused with a
problem naming the field, never an exception deeper down (SQLite raises OverflowError on a
value past 2^63 - 1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select

from saoma.core.errors import InvalidRequest

PAGE_LIMIT_MAX = 100
CURSOR_MAX = 2**63 - 1  # the largest value a BIGINT (and SQLite's INTEGER) holds
CURSOR_DIGITS_MAX = len(str(CURSOR_MAX))


def parse_cursor(value: str | None, field: str = "cursor") -> int | None:
    """The sequence number a ``next_cursor`` carried, or None for the first page."""
    if value is None or value == "":
        return None
    if (
        len(value) > CURSOR_DIGITS_MAX
        or not value.isascii()
        or not value.isdigit()
        or int(value) > CURSOR_MAX
    ):
        raise InvalidRequest(f"{field} must be a value returned as next_cursor", field=field)
    return int(value)


def check_limit(limit: Any, field: str = "limit", *, most: int = PAGE_LIMIT_MAX) -> int:
    """A page size from 1 to ``most`` rows."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= most:
        raise InvalidRequest(f"{field} must be between 1 and {most}", field=field)
    return limit


def page_of(rows: list[Any], limit: int, key: str = "seq") -> tuple[list[Any], str | None]:
    """The first ``limit`` rows of ``limit + 1`` read, and the cursor for the next page."""
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(getattr(rows[-1], key)) if more and rows else None)


# Tables without a sequence column page on (created_at_us, id), newest first: the cursor is
# ``<created_at_us>.<id>`` of the last row shown, so rows sharing a microsecond are neither
# skipped nor repeated, and rows added while a client pages arrive in front of its cursor.
_TIME_CURSOR = re.compile(rf"([0-9]{{1,{CURSOR_DIGITS_MAX}}})\.([a-z0-9_]{{1,32}})")
# Rows keyed by a ledger transfer id (``pay:…``, ``carry:stl_…``): longer, with colons.
TRANSFER_TIME_CURSOR = re.compile(rf"([0-9]{{1,{CURSOR_DIGITS_MAX}}})\.([a-z0-9_:]{{1,64}})")
FILTER_CHARS_MAX = 64


def parse_time_cursor(
    value: str | None, field: str = "cursor", *, shape: re.Pattern[str] = _TIME_CURSOR
) -> tuple[int, str] | None:
    """The (created_at_us, id) a ``next_cursor`` of a time-ordered list carried."""
    if value is None or value == "":
        return None
    found = shape.fullmatch(value) if value.isascii() else None
    if found is None or int(found.group(1)) > CURSOR_MAX:
        raise InvalidRequest(f"{field} must be a value returned as next_cursor", field=field)
    return int(found.group(1)), found.group(2)


def time_page_of(rows: Sequence[Any], limit: int) -> tuple[list[Any], str | None]:
    """Like :func:`page_of` for rows read newest first by (created_at_us, id)."""
    page = list(rows[:limit])
    more = len(rows) > limit
    return page, (f"{page[-1].created_at_us}.{page[-1].id}" if more and page else None)


def newest_first(
    query: Select[Any],
    created: ColumnElement[int],
    ident: ColumnElement[str],
    after: tuple[int, str] | None,
    limit: int,
) -> Select[Any]:
    """``query`` ordered by (created, id) descending, after the cursor, one row over a page."""
    query = query.order_by(created.desc(), ident.desc()).limit(limit + 1)
    if after is not None:
        at, last = after
        query = query.where((created < at) | ((created == at) & (ident < last)))
    return query


def choice(value: str | None, field: str, allowed: tuple[str, ...]) -> str | None:
    """A filter that takes one of a few words, or None when it is not given."""
    if value is None or value == "":
        return None
    if value not in allowed:
        raise InvalidRequest(f"{field} must be one of {', '.join(allowed)}", field=field)
    return value


def text_filter(value: str | None, field: str, *, most: int = FILTER_CHARS_MAX) -> str | None:
    """A filter compared with stored text: bounded, printable, nothing a database refuses."""
    if value is None or value == "":
        return None
    if len(value) > most:
        raise InvalidRequest(f"{field} is {most} characters at most", field=field)
    if not value.isprintable():  # control characters, NUL, half surrogate pairs
        raise InvalidRequest(f"{field} must be printable text", field=field)
    return value
