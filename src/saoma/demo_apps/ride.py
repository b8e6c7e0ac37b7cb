"""A shared-bike ride's rules, without I/O: the bike's code, the deposit, the fare."""

from __future__ import annotations

import re

DEPOSIT = 9_900  # ¥99.00 held at unlock
FARE_PER_PERIOD = 150  # ¥1.50 per period started
PERIOD_S = 30 * 60
CODE_PREFIX = "SAOMA-BIKE:"
_BIKE = re.compile(r"^SAOMA-BIKE:([A-Z]{2}-\d{4})$")


def bike_of(code: str) -> str | None:
    """The bike's number from the code on its handlebar (``SAOMA-BIKE:SZ-0042``), or None."""
    found = _BIKE.match(code.strip())
    return found.group(1) if found else None


def fare_of(elapsed_s: float) -> int:
    """The fare in fen: one period's price for each period started, one period at least, and
    never more than the deposit held."""
    periods = max(1, -(-int(max(elapsed_s, 0)) // PERIOD_S))
    return min(periods * FARE_PER_PERIOD, DEPOSIT)
