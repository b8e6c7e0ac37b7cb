"""Consumers: sign-up, sign-in, sessions, the payment PIN, the no-PIN limit."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.db import read, write
from saoma.ledger import Account, AccountFlags, AccountKind, Ledger
from saoma.ledger.domain import AccountResult
from saoma.money import AMOUNT_MINOR_MAX, currency
from saoma.payments import models as m
from saoma.payments.ids import new_account_id, new_id, now_us, token_hash
from saoma.problems import Problem, invalid, not_found
from saoma.wallets.identifiers import claim_in, placeholder_login
from saoma.wallets.models import identifiers

PIN_TRIES_MAX = 5
PIN_LOCK_US = 15 * 60 * 1_000_000  # locked for 15 minutes after 5 wrong tries
SESSION_US = 30 * 24 * 3600 * 1_000_000
PASSWORD_LENGTH_MIN = 8
NO_PIN_LIMIT_MAX = 200_000  # ¥2,000: the most a consumer may allow without the PIN
DAY_US = 24 * 3600 * 1_000_000

_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}\Z")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+\Z")
_PIN = re.compile(r"^[0-9]{6}\Z")

# Passwords: Argon2id with the library's defaults (about 100 ms here).
_hasher = PasswordHasher()
# PINs: Argon2id too, but cheap (about 2 ms): a six-digit PIN has only 10^6 values, so no hash cost
# could stop an offline search of a stolen database; what protects a PIN is the lock after five
# wrong tries. A costly hash would only add its cost to every payment.
_pin_hasher = PasswordHasher(time_cost=1, memory_cost=4096, parallelism=1)


def check_login(login: str) -> str:
    login = login.strip()
    if _PHONE.match(login):
        return login
    if len(login) <= 254 and _EMAIL.match(login):
        return login.lower()
    raise invalid("login", "login must be a phone number like +8613800138000 or an e-mail address")


def check_password(password: str) -> None:
    if not PASSWORD_LENGTH_MIN <= len(password) <= 256:
        raise invalid("password", f"password must be {PASSWORD_LENGTH_MIN} to 256 characters")


def check_pin(pin: str, field: str = "pin") -> None:
    if not _PIN.match(pin):
        raise invalid(field, "the PIN is six digits")


def _verify(hashed: str, secret: str) -> bool:
    try:
        return _hasher.verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class Consumer:
    id: str
    login: str
    display_name: str
    account_id: int
    currency: str
    has_pin: bool
    no_pin_limit: int
    no_pin_daily_limit: int

    @classmethod
    def of(cls, row: Any) -> Consumer:
        return cls(
            row.id,
            row.login,
            row.display_name,
            row.account_id,
            row.currency,
            row.pin_hash is not None,
            row.no_pin_limit,
            row.no_pin_daily_limit,
        )


class Wallets:
    def __init__(self, engine: Engine, ledger: Ledger, *, currency_code: str = "CNY") -> None:
        self.engine = engine
        self.ledger = ledger
        self.currency = currency(currency_code).alpha

    # --- sign-up and sessions -------------------------------------------------------------------

    def sign_up(self, login: str, password: str, display_name: str = "") -> Consumer:
        """A wallet whose login is claimed, not yet proven: a code is sent to it next.

        A login another wallet claimed but never verified does not block the sign-up: the new
        wallet claims it too (its own login stays a placeholder until then), and whichever
        wallet's owner types the code sent to it gets it.
        """
        login = check_login(login)
        check_password(password)
        if len(display_name) > 64:
            raise invalid("display_name", "display_name is 64 characters at most")
        with read(self.engine) as conn:
            holder = conn.execute(
                select(m.consumers.c.id).where(m.consumers.c.login == login)
            ).first()
            proven = conn.execute(
                select(identifiers.c.consumer_id).where(
                    identifiers.c.value == login, identifiers.c.verified_at_us > 0
                )
            ).first()
        if proven is not None or (holder is not None and not self._claimed(holder.id, login)):
            raise Problem("login-taken", 409, "this login already has a wallet", field="login")
        account_id = self._open_wallet_account()
        consumer_id = new_id("c")
        try:
            with write(self.engine) as conn:
                conn.execute(
                    insert(m.consumers).values(
                        id=consumer_id,
                        login=login if holder is None else placeholder_login(consumer_id),
                        display_name=display_name.strip(),
                        password_hash=_hasher.hash(password),
                        account_id=account_id,
                        currency=self.currency,
                        created_at_us=now_us(),
                    )
                )
                claim_in(conn, consumer_id, login)
        except IntegrityError as exc:  # the same login signed up at the same moment
            raise Problem(
                "login-taken", 409, "this login already has a wallet", field="login"
            ) from exc
        return self.get(consumer_id)

    def _claimed(self, consumer_id: str, login: str) -> bool:
        """Whether a wallet's login is one of its claims (wallets from before 0008 all are)."""
        with read(self.engine) as conn:
            return (
                conn.execute(
                    select(identifiers.c.value).where(
                        identifiers.c.consumer_id == consumer_id, identifiers.c.value == login
                    )
                ).first()
                is not None
            )

    def _open_wallet_account(self) -> int:
        for _ in range(5):
            account_id = new_account_id()
            (result,) = self.ledger.create_accounts(
                [
                    Account(
                        account_id,
                        self.currency,
                        AccountKind.CONSUMER_WALLET,
                        AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                    )
                ]
            )
            if result is AccountResult.OK:
                return account_id
        raise RuntimeError("could not allocate a wallet account id")

    def sign_in(self, login: str, password: str) -> tuple[str, Consumer]:
        """A new bearer token (shown once; only its hash is stored) and the consumer."""
        try:
            login = check_login(login)
        except Problem:
            login = ""
        with read(self.engine) as conn:
            row = conn.execute(select(m.consumers).where(m.consumers.c.login == login)).first()
            if row is None:  # a phone or e-mail added to a wallet and verified
                row = conn.execute(
                    select(m.consumers)
                    .join(identifiers, identifiers.c.consumer_id == m.consumers.c.id)
                    .where(identifiers.c.value == login, identifiers.c.verified_at_us > 0)
                ).first()
        if row is None or not _verify(row.password_hash, password):
            raise Problem("sign-in-failed", 401, "wrong login or password")
        return self.new_session(row.id), Consumer.of(row)

    def new_session(self, consumer_id: str) -> str:
        token = "st_" + secrets.token_urlsafe(32)
        now = now_us()
        with write(self.engine) as conn:
            conn.execute(
                insert(m.sessions).values(
                    token_hash=token_hash(token),
                    consumer_id=consumer_id,
                    created_at_us=now,
                    expires_at_us=now + SESSION_US,
                )
            )
        return token

    def sign_out(self, token: str) -> None:
        with write(self.engine) as conn:
            conn.execute(m.sessions.delete().where(m.sessions.c.token_hash == token_hash(token)))

    def for_token(self, token: str) -> Consumer | None:
        with read(self.engine) as conn:
            row = conn.execute(
                select(m.consumers)
                .join(m.sessions, m.sessions.c.consumer_id == m.consumers.c.id)
                .where(
                    m.sessions.c.token_hash == token_hash(token),
                    m.sessions.c.expires_at_us > now_us(),
                )
            ).first()
        return Consumer.of(row) if row else None

    def get(self, consumer_id: str) -> Consumer:
        with read(self.engine) as conn:
            row = conn.execute(select(m.consumers).where(m.consumers.c.id == consumer_id)).first()
        if row is None:
            raise not_found("consumer", consumer_id)
        return Consumer.of(row)

    def by_login(self, login: str) -> Consumer | None:
        with read(self.engine) as conn:
            row = conn.execute(select(m.consumers).where(m.consumers.c.login == login)).first()
        return Consumer.of(row) if row else None

    def verified_owner(self, identifier: str) -> Consumer | None:
        """The wallet that proved it owns this phone or e-mail: the only one money sent to it
        reaches."""
        with read(self.engine) as conn:
            row = conn.execute(
                select(m.consumers)
                .join(identifiers, identifiers.c.consumer_id == m.consumers.c.id)
                .where(identifiers.c.value == identifier, identifiers.c.verified_at_us > 0)
            ).first()
        return Consumer.of(row) if row else None

    def balance(self, consumer: Consumer) -> dict[str, int]:
        account = self.ledger.account(consumer.account_id)
        if account is None:  # pragma: no cover - a consumer row always has its account
            raise not_found("wallet", consumer.id)
        return {
            "balance": account.balance,
            "available": account.available,
            "held": account.debits_pending,
        }

    # --- the PIN --------------------------------------------------------------------------------

    def set_pin(
        self, consumer_id: str, pin: str, *, password: str | None, old_pin: str | None
    ) -> None:
        """Set the PIN the first time with the password; change it with the old PIN."""
        check_pin(pin)
        with read(self.engine) as conn:
            row = conn.execute(select(m.consumers).where(m.consumers.c.id == consumer_id)).one()
        if row.pin_hash is None:
            if password is None or not _verify(row.password_hash, password):
                raise Problem("sign-in-failed", 401, "the password is wrong", field="password")
        else:
            if old_pin is None:
                raise invalid("old_pin", "changing the PIN needs the current one")
            self.verify_pin(consumer_id, old_pin, field="old_pin")
        with write(self.engine) as conn:
            conn.execute(
                update(m.consumers)
                .where(m.consumers.c.id == consumer_id)
                .values(pin_hash=_pin_hasher.hash(pin), pin_failures=0, pin_locked_until_us=0)
            )

    def verify_pin(self, consumer_id: str, pin: str, *, field: str = "pin") -> None:
        """Pass, or raise: PIN not set, PIN locked, wrong PIN (with the tries left)."""
        now = now_us()
        with read(self.engine) as conn:
            row = conn.execute(select(m.consumers).where(m.consumers.c.id == consumer_id)).one()
        if row.pin_hash is None:
            raise Problem("pin-not-set", 409, "set a payment PIN first", field=field)
        if row.pin_locked_until_us > now:
            minutes = max(1, (row.pin_locked_until_us - now) // 60_000_000)
            raise Problem(
                "pin-locked",
                423,
                f"too many wrong PINs: try again in {minutes} minute(s)",
                field=field,
                locked_until_us=row.pin_locked_until_us,
            )
        if not isinstance(pin, str) or not _PIN.match(pin) or not _verify(row.pin_hash, pin):
            # Counted in one UPDATE so concurrent guesses cannot slip past the limit.
            with write(self.engine) as conn:
                conn.execute(
                    update(m.consumers)
                    .where(m.consumers.c.id == consumer_id)
                    .values(pin_failures=m.consumers.c.pin_failures + 1)
                )
                failures = conn.execute(
                    select(m.consumers.c.pin_failures).where(m.consumers.c.id == consumer_id)
                ).scalar_one()
                if failures >= PIN_TRIES_MAX:
                    conn.execute(
                        update(m.consumers)
                        .where(m.consumers.c.id == consumer_id)
                        .values(pin_failures=0, pin_locked_until_us=now + PIN_LOCK_US)
                    )
            if failures >= PIN_TRIES_MAX:
                raise Problem(
                    "pin-locked", 423, "too many wrong PINs: locked for 15 minutes", field=field
                )
            raise Problem(
                "pin-wrong",
                401,
                f"wrong PIN: {PIN_TRIES_MAX - failures} tries left",
                field=field,
                tries_left=PIN_TRIES_MAX - failures,
            )
        if row.pin_failures:
            with write(self.engine) as conn:
                conn.execute(
                    update(m.consumers)
                    .where(m.consumers.c.id == consumer_id)
                    .values(pin_failures=0)
                )

    def set_no_pin_limit(
        self, consumer_id: str, per_payment: int, per_day: int, pin: str
    ) -> Consumer:
        for field, value in (("per_payment", per_payment), ("per_day", per_day)):
            if not 0 <= value <= NO_PIN_LIMIT_MAX:
                raise invalid(
                    field, f"{field} must be between 0 and {NO_PIN_LIMIT_MAX} (minor units)"
                )
        if per_day < per_payment:
            raise invalid("per_day", "per_day cannot be below per_payment")
        self.verify_pin(consumer_id, pin)
        with write(self.engine) as conn:
            conn.execute(
                update(m.consumers)
                .where(m.consumers.c.id == consumer_id)
                .values(no_pin_limit=per_payment, no_pin_daily_limit=per_day)
            )
        return self.get(consumer_id)

    def no_pin_allows(self, consumer: Consumer, amount: int) -> bool:
        """Whether ``amount`` may settle without the PIN under the limits the payer chose."""
        if amount <= 0 or amount > min(consumer.no_pin_limit, AMOUNT_MINOR_MAX):
            return False
        with read(self.engine) as conn:
            spent = conn.execute(
                select(func.coalesce(func.sum(m.payments.c.amount), 0)).where(
                    m.payments.c.consumer_id == consumer.id,
                    m.payments.c.authorisation.like("no_pin%"),
                    m.payments.c.created_at_us > now_us() - DAY_US,
                )
            ).scalar_one()
        return int(spent) + amount <= consumer.no_pin_daily_limit
