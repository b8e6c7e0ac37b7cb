"""The 18-digit payment code: pure functions, the same on the server and on the device.

    28 HHHHHHHHHH TTTTTT
    │  │          └ 6 digits: HMAC-SHA256(device secret, handle ‖ time step), truncated (HOTP)
    │  └ 10 digits: a one-time handle, random, issued to the device in advance, used once
    └ prefix: a Saoma payment code

A code is valid in the 30-second step it was made in and the next one: at most 60 seconds. See
docs/paycode.md for why this is safe.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct

PREFIX = "28"
LENGTH = 18
HANDLE_DIGITS = 10
MAC_DIGITS = 6
STEP_S = 30
_DIGITS = re.compile(r"[0-9]+")  # only 0 to 9: str.isdigit also takes "²" and "١"


def time_step(at_s: float) -> int:
    return int(at_s // STEP_S)


def mac(secret: bytes, handle: str, step: int) -> str:
    """Six digits by HOTP dynamic truncation (RFC 4226) of HMAC-SHA256 over handle and step."""
    digest = hmac.new(secret, handle.encode() + struct.pack(">Q", step), hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**MAC_DIGITS:0{MAC_DIGITS}d}"


def generate(secret: bytes, handle: str, at_s: float) -> str:
    """The code the device shows for ``handle`` at time ``at_s`` (seconds since the epoch)."""
    if len(handle) != HANDLE_DIGITS or not _DIGITS.fullmatch(handle):
        raise ValueError("a handle is ten digits")
    return PREFIX + handle + mac(secret, handle, time_step(at_s))


def split(code: str) -> tuple[str, str] | None:
    """(handle, mac) of a well-formed code (18 ASCII digits, spaces aside), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != LENGTH or not _DIGITS.fullmatch(code) or not code.startswith(PREFIX):
        return None
    return code[2 : 2 + HANDLE_DIGITS], code[2 + HANDLE_DIGITS :]
