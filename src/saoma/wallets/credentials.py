"""What a person types to prove who they are: the login, the password, the payment PIN.

Shared by consumers and merchants (a merchant's password and manager PIN follow the same rules).
"""

from __future__ import annotations

import functools
import logging
import os
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from saoma.core.errors import (
    InvalidRequest,
)

# OverNoPinLimit is raised here; payments imports it from here.
from saoma.core.errors import OverNoPinLimit as OverNoPinLimit

PASSWORD_LENGTH_MIN = 8


_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}\Z")


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+\Z")


PIN_FORMAT = re.compile(r"^[0-9]{6}\Z")


# Passwords: Argon2id with the library's defaults (about 100 ms here). The test suite, which
# signs up thousands of wallets and shops through real servers, sets SAOMA_TEST_CHEAP_PASSWORDS=1:
# Argon2id at its lowest cost. Never set in production: a process that has it says so at start.
CHEAP_PASSWORDS = os.environ.get("SAOMA_TEST_CHEAP_PASSWORDS") == "1"
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
password_hasher = CHEAP_HASHER if CHEAP_PASSWORDS else PasswordHasher()
if CHEAP_PASSWORDS:
    logging.getLogger(__name__).warning(
        "SAOMA_TEST_CHEAP_PASSWORDS is set: passwords are hashed at Argon2's lowest cost"
        " (tests only)"
    )


# A mainland mobile number as people type it: 11 digits starting 13 to 19, spaces or dashes allowed.
_MAINLAND = re.compile(r"^(?:\+?86)?(1[3-9][0-9]{9})\Z")
_SEPARATORS = re.compile(r"[\s\-()]")


def check_login(login: str) -> str:
    """The login in its one stored form: a phone in E.164 (a mainland number typed without +86
    gets it), or an e-mail address in lower case."""
    login = login.strip()
    if "@" not in login:
        digits = _SEPARATORS.sub("", login)
        mainland = _MAINLAND.match(digits)
        if mainland:
            return "+86" + mainland.group(1)
        if _PHONE.match(digits):
            return digits
    login = login.lower()  # longer, for some letters (İ is two): the length is of this form
    if len(login) <= 254 and _EMAIL.match(login):
        return login
    raise InvalidRequest(
        "login must be a phone number like +8613800138000 or an e-mail address", field="login"
    )


def check_password(password: str) -> None:
    if not PASSWORD_LENGTH_MIN <= len(password) <= 256:
        raise InvalidRequest(
            f"password must be {PASSWORD_LENGTH_MIN} to 256 characters", field="password"
        )


def check_pin(pin: str, field: str = "pin") -> None:
    if not PIN_FORMAT.match(pin):
        raise InvalidRequest("the PIN is six digits", field=field)


def hash_password(password: str) -> str:
    return password_hasher.hash(password)


@functools.cache
def unknown_login_hash() -> str:
    """A hash to check an unknown login's password against, so that its answer takes as long
    as a known login's: how long a refusal takes does not tell which logins exist."""
    return hash_password("never a password")


def password_matches(hashed: str, secret: str) -> bool:
    try:
        return password_hasher.verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False
