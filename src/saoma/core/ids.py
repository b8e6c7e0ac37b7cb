"""Identifiers (a short type prefix and 80 random bits: unguessable, self-describing) and the
clock's microseconds since the epoch, with their RFC 3339 form."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    return f"{prefix}_{base64.b32encode(secrets.token_bytes(10)).decode().lower()}"


def new_account_id() -> int:
    """A ledger account id: random 52 bits (safe in JavaScript), above the system accounts."""
    return 1_000_000 + secrets.randbits(52)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now_us() -> int:
    return time.time_ns() // 1000


_SECOND: tuple[int, str] = (0, "1970-01-01T00:00:00")  # the last second formatted, and how


def rfc3339(us: int) -> str:
    """``us`` microseconds since the epoch as RFC 3339 in UTC, to the millisecond (cut, not
    rounded). A payment's views name a few instants of the same second: its date and time are
    formatted once per second, the milliseconds each time."""
    global _SECOND
    seconds, rest = divmod(us, 1_000_000)
    last = _SECOND
    if last[0] != seconds:
        last = (seconds, datetime.fromtimestamp(seconds, UTC).isoformat()[:19])
        _SECOND = last  # one tuple, swapped whole: safe across threads
    return f"{last[1]}.{rest // 1000:03d}Z"
