"""Fixtures: a real Saoma server in its own process, on SQLite and PostgreSQL, over real HTTP.

The server allows its merchants many wrong payment codes a minute: the hostile and fuzzed charges
(every one a wrong code) then reach the checks of their fields, instead of the wrong-code limit's
refusal after a wait for tries under way, which would hide those checks and cost seconds each.
For the same reason it takes any number of wrong passwords from its one client address (each
login keeps its own limit).
"""

from __future__ import annotations

from support import receiver, server_with

__all__ = ["receiver"]

server = server_with(
    "abuse",
    SAOMA_PAYCODE_MERCHANT_FAILURES_MAX="10000",
    SAOMA_SIGN_IN_ADDRESS_FAILURES_MAX="100000",
)
