"""Cursor pagination shared by every list: strict parsing of what a client sends back.

A list answers ``{"data": [...], "next_cursor": "<digits>" | null}``; the cursor is the last
row's sequence number as decimal ASCII digits. Anything else a client sends (non-ASCII digits
such as ``²`` or ``١``, a sign, more digits than a 63-bit integer holds) is refused with a
problem naming the field, never an exception deeper down (SQLite raises OverflowError on a
value past 2^63 - 1).
"""

from __future__ import annotations

from typing import Any

from saoma.problems import invalid

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
        raise invalid(field, f"{field} must be a value returned as next_cursor")
    return int(value)


def check_limit(limit: Any, field: str = "limit", *, most: int = PAGE_LIMIT_MAX) -> int:
    """A page size from 1 to ``most`` rows."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= most:
        raise invalid(field, f"{field} must be between 1 and {most}")
    return limit


def page_of(rows: list[Any], limit: int, key: str = "seq") -> tuple[list[Any], str | None]:
    """The first ``limit`` rows of ``limit + 1`` read, and the cursor for the next page."""
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(getattr(rows[-1], key)) if more and rows else None)
