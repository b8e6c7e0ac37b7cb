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


def rfc3339(us: int) -> str:
    """``us`` microseconds since the epoch as RFC 3339 in UTC, to the millisecond."""
    return (
        datetime.fromtimestamp(us / 1_000_000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
