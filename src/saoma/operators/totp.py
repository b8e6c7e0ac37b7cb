"""Time-based one-time passwords (RFC 6238): HMAC-SHA1, 30-second steps, 6 digits.

An operator's authenticator app holds the shared secret (base32, shown once as an
``otpauth://`` URI and a QR code); a code is accepted for the current step or one step either
side of it, to allow for the phone's clock and the time it takes to type.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
import time
from urllib.parse import quote

STEP_S = 30
DIGITS = 6
WINDOW = 1  # steps either side of now
ISSUER = "Saoma"


def new_secret() -> str:
    """A fresh 160-bit secret, base32 without padding (what authenticator apps read)."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def step_at(unix_s: float) -> int:
    return int(unix_s // STEP_S)


def code_at(key: bytes, step: int, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    """The code for time step ``step`` (RFC 4226's HOTP over the step counter)."""
    mac = hmac.new(key, struct.pack(">Q", step), digest).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def code(secret: str, unix_s: float | None = None) -> str:
    """The code the authenticator app shows at ``unix_s`` (default: now)."""
    return code_at(_key(secret), step_at(time.time() if unix_s is None else unix_s))


def matching_step(secret: str, typed: str, unix_s: float | None = None) -> int | None:
    """The latest time step within the window whose code is ``typed``, or None."""
    if len(typed) != DIGITS or not typed.isascii() or not typed.isdigit() or not secret:
        return None
    key = _key(secret)
    now = step_at(time.time() if unix_s is None else unix_s)
    found = None
    for step in range(now - WINDOW, now + WINDOW + 1):
        if hmac.compare_digest(code_at(key, step), typed):
            found = step
    return found


def uri(secret: str, login: str) -> str:
    """The ``otpauth://`` URI an authenticator app scans."""
    label = quote(f"{ISSUER}:{login}", safe="")
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={ISSUER}"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP_S}"
    )
