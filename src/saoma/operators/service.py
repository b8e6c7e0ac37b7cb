"""Operators: who they are, signing in (password and TOTP code), and their sessions.

Sign-in claims a try first, in one conditional UPDATE (``failures < FAILURES_MAX`` or the lock
has run out), so any number of concurrent wrong tries check at most ``FAILURES_MAX`` passwords
before the lock; a success that claimed its try there clears the count. A browser the operator
signed in from before (its ``saoma_device`` cookie) claims its own ``FAILURES_MAX`` tries first,
in one conditional UPDATE too (saoma.wallets.signins), so someone who knows an operator's login
cannot lock them out of their own browser; its success leaves the count others' tries set, and a
new password or a disabled account forgets those browsers. A TOTP code is taken once: the UPDATE
that records its time step only matches while ``totp_last_step`` is older. The TOTP secret is
sealed with a key kept outside the database (:mod:`saoma.operators.sealing`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import case, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import InvalidRequest, LoginTaken, NotFound, SignInFailed
from saoma.core.ids import new_id, now_us, token_hash
from saoma.db import read, write
from saoma.operators import tables as t
from saoma.operators import totp
from saoma.operators.roles import ROLES
from saoma.operators.sealing import Sealer
from saoma.wallets.credentials import (
    check_password,
    hash_password,
    password_matches,
    unknown_login_hash,
)
from saoma.wallets.signins import SignInTries

SESSION_TOKEN_PREFIX = "ot_"  # noqa: S105  # nosec B105  # a prefix, not a secret
FAILURES_MAX = 5
_UNLOCKED = {"failures": 0, "locked_until_us": 0}  # what a right sign-in leaves of the lock
LOCK_US = 15 * 60 * 1_000_000
DEFAULT_SESSION_S = 8 * 3600


def _six_digits(code: object) -> bool:
    return isinstance(code, str) and len(code) == totp.DIGITS and code.isascii() and code.isdigit()


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    login: str
    name: str
    role: str

    @classmethod
    def of(cls, row: Any) -> Operator:
        return cls(row.id, row.login, row.name, row.role)

    def view(self) -> dict[str, str]:
        return {"id": self.id, "login": self.login, "name": self.name, "role": self.role}


@dataclass(frozen=True, slots=True)
class Added:
    operator: Operator
    secret: str  # base32, for the authenticator app (shown once)
    uri: str  # otpauth://


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    operator: Operator
    expires_at_us: int


class Operators:
    def __init__(
        self, engine: Engine, *, session_s: int = DEFAULT_SESSION_S, key_file: Path | None = None
    ) -> None:
        self.engine = engine
        self.sealer = Sealer(key_file)
        self.session_us = session_s * 1_000_000
        self.devices = SignInTries(engine, "operator", accounts=t.operators, per_pair=FAILURES_MAX)
        self.devices.clock = lambda: self.clock()
        self.clock: Callable[[], int] = now_us  # microseconds; tests move it

    # --- who they are -------------------------------------------------------------------------

    def add(self, login: str, password: str, role: str, name: str = "") -> Added:
        login = login.strip().lower()
        if not 3 <= len(login) <= 254 or any(ch.isspace() for ch in login):
            raise InvalidRequest("login: 3 to 254 characters, no spaces", field="login")
        if role not in ROLES:
            raise InvalidRequest(f"role: one of {', '.join(ROLES)}", field="role")
        if len(name) > 64:
            raise InvalidRequest("name: 64 characters at most", field="name")
        check_password(password)
        secret = totp.new_secret()
        operator = Operator(new_id("op"), login, name.strip(), role)
        try:
            with write(self.engine) as conn:
                conn.execute(
                    insert(t.operators).values(
                        id=operator.id,
                        login=login,
                        name=operator.name,
                        role=role,
                        password_hash=hash_password(password),
                        totp_secret=self.sealer.seal(secret, operator.id),
                        created_at_us=self.clock(),
                    )
                )
        except IntegrityError:
            raise LoginTaken(f"an operator {login} exists already") from None
        return Added(operator, secret, totp.uri(secret, login))

    def listing(self) -> list[dict[str, Any]]:
        o = t.operators.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(o.id, o.login, o.name, o.role, o.disabled_at_us, o.created_at_us).order_by(
                    o.created_at_us, o.id
                )
            ).all()
        return [
            {**Operator.of(r).view(), "disabled": r.disabled_at_us > 0, "created_at_us": r[5]}
            for r in rows
        ]

    def disable(self, login: str) -> None:
        """Disable the operator and end their sessions."""
        o = t.operators.c
        self._change(login, lambda _: {"disabled_at_us": self.clock()}, o.disabled_at_us == 0)

    def reset(self, login: str, password: str) -> Added:
        """A new password and a new authenticator secret for an operator who lost either: the
        lock and the failures counted are cleared and every session of theirs ends. A disabled
        operator stays disabled."""
        check_password(password)
        secret, password_hash = totp.new_secret(), hash_password(password)  # not in the write
        row = self._change(
            login,
            lambda row: {
                "password_hash": password_hash,
                "totp_secret": self.sealer.seal(secret, row.id),
                "totp_last_step": 0,
                "failures": 0,
                "locked_until_us": 0,
            },
        )
        return Added(Operator.of(row), secret, totp.uri(secret, row.login))

    def _change(self, login: str, values: Callable[[Any], dict[str, Any]], *only: Any) -> Any:
        """The operator ``login`` (or NotFound), given ``values`` (made from their row) where
        ``only`` holds, with every session of theirs ended: one transaction."""
        o = t.operators.c
        with write(self.engine) as conn:
            row = conn.execute(select(t.operators).where(o.login == login.strip().lower())).first()
            if row is None:
                raise NotFound(f"no operator {login}")
            conn.execute(update(t.operators).where(o.id == row.id, *only).values(**values(row)))
            conn.execute(
                t.operator_sessions.delete().where(t.operator_sessions.c.operator_id == row.id)
            )
            self.devices.forget_devices(conn, row.id)
        return row

    # --- signing in ---------------------------------------------------------------------------

    def sign_in(
        self, login: str, password: str, code: str, address: str = "", device: str = ""
    ) -> Session:
        """A new session for the operator whose password and current TOTP code these are.
        ``device``: the token of the browser signing in (``saoma_device``); one the operator
        signed in from before has ``FAILURES_MAX`` wrong tries of its own, until its next
        right one, before the operator's lock applies to it too."""
        o = t.operators.c
        if not _six_digits(code):  # refused before any password is hashed
            raise SignInFailed("the code is the 6 digits the authenticator app shows")
        with read(self.engine) as conn:
            row = conn.execute(
                select(t.operators).where(
                    o.login == str(login).strip().lower(), o.disabled_at_us == 0
                )
            ).first()
        if row is None:
            password_matches(unknown_login_hash(), password)
            raise SignInFailed("wrong login, password or code")
        # A browser the operator signed in from before tries on its own count first, so
        # wrong tries from elsewhere do not lock the operator out of it.
        on_device = self.devices.claim_on_device(row.id, device) if device else ""
        if not on_device and not self._claim_try(row.id):
            raise SignInFailed("too many failed sign-ins: try again in 15 minutes")
        secret = self.sealer.open(row.totp_secret, row.id)
        step = totp.matching_step(secret, code, self.clock() / 1e6)
        if not password_matches(row.password_hash, password) or step is None:
            raise SignInFailed("wrong login, password or code")
        with write(self.engine) as conn:
            taken = conn.execute(
                update(t.operators)
                .where(
                    o.id == row.id,
                    o.totp_last_step < step,
                    o.password_hash == row.password_hash,  # not reset meanwhile
                    o.disabled_at_us == 0,
                )
                # A known browser's right sign-in leaves a lock that others' tries set.
                .values(totp_last_step=step, **({} if on_device else _UNLOCKED))
            ).rowcount
        if taken != 1:
            raise SignInFailed("that code was used already, or the account changed: sign in again")
        if device:  # known from now on (its count renewed), while this password lasts
            self.devices.remember(row.id, device, row.password_hash)
        return self._new_session(Operator.of(row), address)

    def _claim_try(self, operator_id: str) -> bool:
        """Count this try as a failure until it succeeds; False while the operator is locked."""
        o = t.operators.c
        now = self.clock()
        unlocked = o.locked_until_us <= now
        with write(self.engine) as conn:
            claimed = conn.execute(
                update(t.operators)
                .where(o.id == operator_id, (o.failures < FAILURES_MAX) | unlocked)
                .values(
                    failures=case((o.failures >= FAILURES_MAX, 1), else_=o.failures + 1),
                    locked_until_us=case(
                        (o.failures + 1 == FAILURES_MAX, now + LOCK_US), else_=o.locked_until_us
                    ),
                )
            ).rowcount
        return claimed == 1

    def _new_session(self, operator: Operator, address: str) -> Session:
        token = SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + self.session_us
        with write(self.engine) as conn:
            conn.execute(
                insert(t.operator_sessions).values(
                    token_hash=token_hash(token),
                    operator_id=operator.id,
                    address=address[:64],
                    created_at_us=now,
                    expires_at_us=expires,
                )
            )
        return Session(token, operator, expires)

    def sign_out(self, token: str) -> None:
        with write(self.engine) as conn:
            conn.execute(
                t.operator_sessions.delete().where(
                    t.operator_sessions.c.token_hash == token_hash(token)
                )
            )

    def for_token(self, token: str) -> Operator | None:
        """The active operator whose unexpired session ``token`` is, or None."""
        o, s = t.operators.c, t.operator_sessions.c
        with read(self.engine) as conn:
            row = conn.execute(
                select(o.id, o.login, o.name, o.role)
                .join(t.operator_sessions, s.operator_id == o.id)
                .where(
                    s.token_hash == token_hash(token),
                    s.expires_at_us > self.clock(),
                    o.disabled_at_us == 0,
                )
            ).first()
        return Operator.of(row) if row is not None else None

    def failures(self, login: str) -> int:
        with read(self.engine) as conn:
            found = conn.execute(
                select(t.operators.c.failures).where(t.operators.c.login == login)
            ).scalar()
        return int(found or 0)
