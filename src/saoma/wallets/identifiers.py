"""Owning a phone or an e-mail address: one-time codes, and who holds each identifier verified.

A code is six random digits, sent through the messaging connector, stored only as a salted hash,
good for ten minutes and for five checks. Each check is claimed with one conditional UPDATE
before the code is compared, so however many guesses arrive at once, at most five are compared.
A new code may be asked for once a minute and ten times a day per wallet and identifier.

Many wallets may claim an identifier; the one whose owner types the code holds it verified (a
unique index over verified rows makes that one), and only that wallet receives money sent to it.
Verifying drops the other wallets' unverified claims and, where one of them signed up with that
login, frees the login: a claim that was never proven cannot keep a phone from its owner.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, insert, literal, or_, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import (
    IdentifierTaken,
    IdentifierUnknown,
    IdentifierVerified,
    InvalidRequest,
    SaomaError,
    VerificationCodeExpired,
    VerificationCodeLocked,
    VerificationCodesExhausted,
    VerificationCodeTooSoon,
    VerificationCodeWrong,
)
from saoma.core.ids import now_us, rfc3339
from saoma.db import insert_below, lock_row, read, write
from saoma.messaging.connector import Messenger
from saoma.wallets import tables as m

log = logging.getLogger(__name__)

CODE_TTL_US = 10 * 60 * 1_000_000
CODE_CHECKS_MAX = 5
RESEND_US = 60 * 1_000_000
SENDS_PER_DAY_MAX = 10  # per wallet and identifier
IDENTIFIER_SENDS_PER_DAY_MAX = 20  # to one identifier, whichever wallets ask
DAY_US = 24 * 3600 * 1_000_000
IDENTIFIERS_MAX = 5  # phones and e-mail addresses one wallet may claim
PLACEHOLDER = "~"  # a login that is not one: a wallet whose claimed login someone else proved

Verified = Callable[[str, str], None]


def placeholder_login(consumer_id: str) -> str:
    return PLACEHOLDER + consumer_id


def check_identifier(value: Any, field: str = "identifier") -> str:
    from saoma.wallets.credentials import check_login

    if isinstance(value, str) and len(value) <= 254:
        try:
            return check_login(value)
        except InvalidRequest:
            pass
    raise InvalidRequest(
        f"{field} is a phone number like +8613800138000 or an e-mail address", field=field
    )


def check_code(code: Any) -> str:
    if isinstance(code, str) and len(code) == 6 and all(c in "0123456789" for c in code):
        return code
    raise InvalidRequest("the code is the six digits we sent", field="code")


def _hash(salt: str, code: str) -> str:
    return hmac.new(salt.encode(), code.encode(), hashlib.sha256).hexdigest()


def claim_in(conn: Connection, consumer_id: str, value: str) -> None:
    """An unverified claim, in the caller's transaction (sign-up writes it with the wallet)."""
    conn.execute(
        insert(m.identifiers).values(consumer_id=consumer_id, value=value, created_at_us=now_us())
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    identifier: str
    verified_at_us: int
    newly: bool  # False when it was already verified (a repeated request)


class Identifiers:
    def __init__(self, engine: Engine, messenger: Messenger) -> None:
        self.engine = engine
        self.messenger = messenger
        self.on_verified: Verified | None = None  # money waiting for the identifier, delivered

    # --- reading ----------------------------------------------------------------------------------

    def owner_of(self, value: str) -> str | None:
        """The wallet holding ``value`` verified, or None: only that wallet receives money."""
        with read(self.engine) as conn:
            found = conn.execute(
                select(m.identifiers.c.consumer_id).where(
                    m.identifiers.c.value == value, m.identifiers.c.verified_at_us > 0
                )
            ).scalar()
        return str(found) if found is not None else None

    def of(self, consumer_id: str) -> list[dict[str, Any]]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(m.identifiers)
                .where(m.identifiers.c.consumer_id == consumer_id)
                .order_by(m.identifiers.c.created_at_us, m.identifiers.c.value)
            ).all()
        return [self.view(r) for r in rows]

    @staticmethod
    def view(row: Any) -> dict[str, Any]:
        view: dict[str, Any] = {
            "identifier": row.value,
            "kind": "phone" if row.value.startswith("+") else "email",
            "verified": row.verified_at_us > 0,
        }
        if row.verified_at_us > 0:
            view["verified_at"] = rfc3339(row.verified_at_us)
        elif row.code_hash:
            view["code_expires_at"] = rfc3339(row.code_expires_at_us)
            view["code_tries_left"] = max(0, CODE_CHECKS_MAX - row.code_attempts)
        if not row.verified_at_us and row.code_sent_at_us:
            view["resend_after"] = rfc3339(row.code_sent_at_us + RESEND_US)
        return view

    def _row(self, consumer_id: str, value: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(
                select(m.identifiers).where(
                    m.identifiers.c.consumer_id == consumer_id, m.identifiers.c.value == value
                )
            ).first()

    # --- claiming and sending codes ---------------------------------------------------------------

    def add(self, consumer_id: str, value: Any) -> dict[str, Any]:
        """Claim another phone or e-mail for a wallet and send it a code."""
        value = check_identifier(value)
        owner = self.owner_of(value)
        if owner == consumer_id:
            raise IdentifierVerified("this is already yours, verified", field="identifier")
        if owner is not None:
            raise IdentifierTaken(
                "another wallet has verified this phone or e-mail", field="identifier"
            )
        if self._row(consumer_id, value) is None:
            i = m.identifiers.c
            values = {"consumer_id": consumer_id, "value": value, "created_at_us": now_us()}
            try:
                with write(self.engine) as conn:
                    lock_row(conn, "consumers", consumer_id)  # queues the wallet's claims
                    made = insert_below(
                        conn, m.identifiers, values, i.consumer_id == consumer_id, IDENTIFIERS_MAX
                    )
            except IntegrityError:  # the same claim sent twice at once: one stands
                made = True
            # The same claim sent twice at once may also find the last place taken by its twin.
            if not made and self._row(consumer_id, value) is None:
                raise InvalidRequest(
                    f"a wallet has {IDENTIFIERS_MAX} phones and e-mails at most", field="identifier"
                )
        return self.send_code(consumer_id, value)

    def send_code(self, consumer_id: str, value: Any) -> dict[str, Any]:
        """A new code replaces the last one; once a minute and ten times a day at most."""
        value = check_identifier(value)
        now = now_us()
        code = f"{secrets.randbelow(10**6):06d}"
        salt = secrets.token_hex(16)
        c = m.identifiers.c
        new_day = c.sends_since_us <= now - DAY_US
        with write(self.engine) as conn:
            sent = conn.execute(
                update(m.identifiers)
                .where(
                    c.consumer_id == consumer_id,
                    c.value == value,
                    c.verified_at_us == 0,
                    c.code_sent_at_us <= now - RESEND_US,
                    or_(new_day, c.sends < SENDS_PER_DAY_MAX),
                )
                .values(
                    code_hash=_hash(salt, code),
                    code_salt=salt,
                    code_expires_at_us=now + CODE_TTL_US,
                    code_attempts=0,
                    code_sent_at_us=now,
                    sends=case((new_day, 1), else_=c.sends + 1),
                    sends_since_us=case((new_day, now), else_=c.sends_since_us),
                )
            )
            if sent.rowcount == 1 and not self._count_send(conn, value, now):
                raise VerificationCodesExhausted(
                    f"{IDENTIFIER_SENDS_PER_DAY_MAX} codes went to {value} today: "
                    "try again tomorrow",
                    field="identifier",
                )
        if sent.rowcount != 1:
            raise self._not_sent(self._row(consumer_id, value), now)
        # After the commit, once: a connector that fails leaves a code nobody received; the
        # person asks again in a minute.
        self.messenger.send_code(value, code, expires_in_s=CODE_TTL_US // 1_000_000)
        return self.view(self._row(consumer_id, value))

    @staticmethod
    def _count_send(conn: Connection, value: str, now: int) -> bool:
        """One more code to ``value`` today, if fewer than the most: one conditional UPDATE."""
        conn.execute(
            text(
                "INSERT INTO identifier_sends (value, sends, since_us) VALUES (:v, 0, :now)"
                " ON CONFLICT (value) DO NOTHING"
            ),
            {"v": value, "now": now},
        )
        s = m.identifier_sends.c
        new_day = s.since_us <= now - DAY_US
        counted = conn.execute(
            update(m.identifier_sends)
            .where(s.value == value, or_(new_day, s.sends < IDENTIFIER_SENDS_PER_DAY_MAX))
            .values(
                sends=case((new_day, 1), else_=s.sends + 1),
                since_us=case((new_day, now), else_=s.since_us),
            )
        )
        return bool(counted.rowcount == 1)

    @staticmethod
    def _not_sent(row: Any, now: int) -> SaomaError:
        if row is None:
            return IdentifierUnknown(
                "this wallet has not claimed that phone or e-mail: add it first", field="identifier"
            )
        if row.verified_at_us > 0:
            return IdentifierVerified("this is already yours, verified", field="identifier")
        wait_s = max(1, (row.code_sent_at_us + RESEND_US - now + 999_999) // 1_000_000)
        if row.code_sent_at_us > now - RESEND_US:
            return VerificationCodeTooSoon(
                f"a code was sent just now: ask again in {wait_s} s",
                field="identifier",
                retry_after_s=wait_s,
            )
        return VerificationCodesExhausted(
            f"{SENDS_PER_DAY_MAX} codes were sent today: try again tomorrow", field="identifier"
        )

    # --- verifying --------------------------------------------------------------------------------

    def verify(self, consumer_id: str, value: Any, code: Any) -> Outcome:
        """Check ``code``; when right, the identifier is this wallet's, verified."""
        value = check_identifier(value)
        code = check_code(code)
        now = now_us()
        c = m.identifiers.c
        mine = (c.consumer_id == consumer_id, c.value == value)
        with write(self.engine) as conn:
            # The check is claimed before the code is compared: concurrent guesses cannot
            # compare more than CODE_CHECKS_MAX.
            claimed = conn.execute(
                update(m.identifiers)
                .where(
                    *mine,
                    c.verified_at_us == 0,
                    c.code_hash != "",
                    c.code_expires_at_us > now,
                    c.code_attempts < CODE_CHECKS_MAX,
                )
                .values(code_attempts=c.code_attempts + 1)
            )
            row = conn.execute(select(m.identifiers).where(*mine)).first()
        if claimed.rowcount != 1 or row is None:
            if row is not None and row.verified_at_us > 0:
                return Outcome(value, row.verified_at_us, newly=False)
            raise self._not_checked(row, now)
        if not hmac.compare_digest(_hash(row.code_salt, code), row.code_hash):
            left = CODE_CHECKS_MAX - row.code_attempts
            raise VerificationCodeWrong(
                f"wrong code: {left} tries left" if left else "wrong code: ask for a new one",
                field="code",
                tries_left=left,
            )
        if not self._take(consumer_id, value, row.code_hash, now):
            again = self._row(consumer_id, value)
            if again is None or again.verified_at_us == 0:
                raise self._not_checked(again, now)
            return Outcome(value, again.verified_at_us, newly=False)
        if self.on_verified is not None:
            try:
                self.on_verified(consumer_id, value)
            except Exception:  # maintenance delivers what waits for a verified identifier
                log.exception("delivering money waiting for %s failed", consumer_id)
        return Outcome(value, now, newly=True)

    def _take(self, consumer_id: str, value: str, code_hash: str, now: int) -> bool:
        """Mark the identifier verified, drop others' unverified claims and free the login."""
        c = m.identifiers.c
        consumers = m.consumers
        try:
            with write(self.engine) as conn:
                # Every claim of this identifier, locked in one order first: two wallets
                # verifying it at once then queue here instead of deadlocking on each other's
                # rows (PostgreSQL; SQLite's writers take turns anyway).
                conn.execute(
                    select(c.consumer_id)
                    .where(c.value == value)
                    .order_by(c.consumer_id)
                    .with_for_update()
                ).all()
                done = conn.execute(
                    update(m.identifiers)
                    .where(
                        c.consumer_id == consumer_id,
                        c.value == value,
                        c.verified_at_us == 0,
                        c.code_hash == code_hash,
                    )
                    .values(verified_at_us=now, code_hash="", code_salt="")
                )
                if done.rowcount != 1:  # the same code typed twice at once: one stands
                    return False
                conn.execute(
                    delete(m.identifiers).where(
                        c.value == value, c.consumer_id != consumer_id, c.verified_at_us == 0
                    )
                )
                conn.execute(
                    update(consumers)
                    .where(consumers.c.login == value, consumers.c.id != consumer_id)
                    .values(login=literal(PLACEHOLDER) + consumers.c.id)
                )
                conn.execute(
                    update(consumers)
                    .where(
                        consumers.c.id == consumer_id,
                        consumers.c.login == literal(PLACEHOLDER) + consumers.c.id,
                    )
                    .values(login=value)
                )
        except IntegrityError as exc:  # another wallet verified it a moment before
            raise IdentifierTaken(
                "another wallet has verified this phone or e-mail", field="identifier"
            ) from exc
        return True

    @staticmethod
    def _not_checked(row: Any, now: int) -> SaomaError:
        if row is None:
            return IdentifierUnknown(
                "this wallet has not claimed that phone or e-mail (or another wallet verified it)",
                field="identifier",
            )
        if row.code_hash and row.code_attempts >= CODE_CHECKS_MAX:
            return VerificationCodeLocked(
                f"{CODE_CHECKS_MAX} wrong codes: ask for a new one", field="code"
            )
        return VerificationCodeExpired("the code has expired: ask for a new one", field="code")
