"""Consumers: sign-up, sign-in, sessions, the payment PIN, the no-PIN limit."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import (
    InvalidRequest,
    LoginTaken,
    NotFound,
    SignInFailed,
)

# OverNoPinLimit is raised here; payments imports it from here.
from saoma.core.errors import OverNoPinLimit as OverNoPinLimit
from saoma.core.ids import new_id, now_us, token_hash
from saoma.core.money import AMOUNT_MINOR_MAX, currency
from saoma.db import Bare, alone, is_sqlite, named_postgres, read, write
from saoma.ledger import AccountKind, Ledger
from saoma.ledger.tx import Tx
from saoma.wallets import tables as wm
from saoma.wallets.credentials import (
    check_login,
    check_password,
    check_pin,
    hash_password,
    password_matches,
    unknown_login_hash,
)
from saoma.wallets.identifiers import claim_in, placeholder_login
from saoma.wallets.pinkeys import PinKeys
from saoma.wallets.pins import (
    PinTry,
    claim_pin_try,
    passed_params,
    passed_statement,
    pin_try_failed,
    pin_try_passed,
)
from saoma.wallets.signins import SignInTries
from saoma.wallets.tables import identifiers

# Built once: every request signed in with a token reads its wallet, and a payment with the PIN
# records one check; building and keying these statements per call cost more than their trips.
_BY_TOKEN = Bare(  # read on every request of a signed-in payer: run on the driver directly
    select(wm.consumers)
    .join(wm.sessions, wm.sessions.c.consumer_id == wm.consumers.c.id)
    .where(
        wm.sessions.c.token_hash == bindparam("hash"),
        wm.sessions.c.expires_at_us > bindparam("now"),
    )
)
_SESSION_HOLDER = select(wm.sessions.c.consumer_id).where(
    wm.sessions.c.token_hash == bindparam("hash"), wm.sessions.c.expires_at_us > bindparam("now")
)
_BY_ID = select(wm.consumers).where(wm.consumers.c.id == bindparam("id"))
_RECORD_PIN_CHECK = insert(wm.pin_checks).values(
    id=bindparam("check_id"), consumer_id=bindparam("consumer_id"), checked_at_us=bindparam("at")
)  # no parameter named after a consumers column: the CTE's UPDATE below would set it
# PostgreSQL: the try given back and the check recorded in one statement that commits on its
# own, one round trip where BEGIN, two statements and COMMIT took four.
_PIN_PASSED_AND_RECORDED = Bare(  # run on the driver directly: one per payment with the PIN
    _RECORD_PIN_CHECK.add_cte(passed_statement(wm.consumers).cte("passed"), nest_here=True)
)
# The same statement in a ledger hook's form: sent with the money movement the PIN authorises.
_PIN_PASSED_IN_TX, _PIN_PASSED_LITERALS = named_postgres(_PIN_PASSED_AND_RECORDED.statement)


@dataclass(slots=True)
class PinPass:
    """A right PIN whose try is still to be given back and its check recorded (PostgreSQL):
    in the transaction of the money movement it authorises (``Wallets.pin_passed_in``), or on
    its own once that is over (``Wallets.pin_passed``), whichever comes first: one statement,
    and the check's id is unique, so never twice."""

    params: dict[str, Any]  # the statement's, the check's id among them
    done: bool = False

    def committed(self) -> None:
        self.done = True


SESSION_US = 30 * 24 * 3600 * 1_000_000
NO_PIN_LIMIT_MAX = 200_000  # ¥2,000: the most a consumer may allow without the PIN
NO_PIN_ZONE_DEFAULT = "Asia/Shanghai"  # SAOMA_TIMEZONE's default: the day resets at midnight


def day_of(at_us: int, tz: ZoneInfo) -> int:
    """The calendar day of ``at_us`` in ``tz`` as YYYYMMDD: the no-PIN allowance's day."""
    d = datetime.fromtimestamp(at_us / 1_000_000, UTC).astimezone(tz).date()
    return d.year * 10_000 + d.month * 100 + d.day


_BY_ID_BARE = Bare(_BY_ID)  # a payment code's payer, read on every charge


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
    def __init__(
        self,
        engine: Engine,
        ledger: Ledger,
        *,
        currency_code: str = "CNY",
        tz: ZoneInfo | None = None,
        pins: PinKeys | None = None,
    ) -> None:
        self.engine = engine
        self.pins = pins or PinKeys(None)
        self.ledger = ledger
        self.currency = currency(currency_code).alpha
        self.tz = tz or ZoneInfo(NO_PIN_ZONE_DEFAULT)  # whose midnight starts a no-PIN day
        self.sign_ins = SignInTries(engine, "consumer", accounts=wm.consumers)

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
            raise InvalidRequest("display_name is 64 characters at most", field="display_name")
        with read(self.engine) as conn:
            holder = conn.execute(
                select(wm.consumers.c.id).where(wm.consumers.c.login == login)
            ).first()
            proven = conn.execute(
                select(identifiers.c.consumer_id).where(
                    identifiers.c.value == login, identifiers.c.verified_at_us > 0
                )
            ).first()
        if proven is not None or (holder is not None and not self._claimed(holder.id, login)):
            raise LoginTaken("this login already has a wallet", field="login")
        account_id = self._open_wallet_account()
        consumer_id = new_id("c")
        now = now_us()
        try:
            with write(self.engine) as conn:
                conn.execute(
                    insert(wm.consumers).values(
                        id=consumer_id,
                        login=login if holder is None else placeholder_login(consumer_id),
                        display_name=display_name.strip(),
                        password_hash=hash_password(password),
                        account_id=account_id,
                        currency=self.currency,
                        created_at_us=now,
                    )
                )
                conn.execute(  # the initial limits (none), in force from sign-up
                    insert(wm.no_pin_limit_changes).values(
                        consumer_id=consumer_id, per_payment=0, per_day=0, changed_at_us=now
                    )
                )
                claim_in(conn, consumer_id, login)
        except IntegrityError as exc:  # the same login signed up at the same moment
            raise LoginTaken("this login already has a wallet", field="login") from exc
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
        return self.ledger.open_account(self.currency, AccountKind.CONSUMER_WALLET)

    def sign_in(
        self, login: str, password: str, address: str = "", device: str = ""
    ) -> tuple[str, Consumer]:
        """A new bearer token (shown once; only its hash is stored) and the consumer; wrong
        passwords are limited per login and per ``address``, less for a known ``device``
        (saoma.wallets.signins)."""
        try:
            login = check_login(login)
        except InvalidRequest:
            login = ""
        with read(self.engine) as conn:
            row = conn.execute(select(wm.consumers).where(wm.consumers.c.login == login)).first()
            if row is None:  # a phone or e-mail added to a wallet and verified
                row = conn.execute(
                    select(wm.consumers)
                    .join(identifiers, identifiers.c.consumer_id == wm.consumers.c.id)
                    .where(identifiers.c.value == login, identifiers.c.verified_at_us > 0)
                ).first()
        account_id, checked = (None, "") if row is None else (row.id, row.password_hash)
        with self.sign_ins.checking(account_id, login, address, device, checked):
            hashed = unknown_login_hash() if row is None else row.password_hash
            if not password_matches(hashed, password) or row is None:
                raise SignInFailed("wrong login or password")
            return self.new_session(row.id, password_hash=row.password_hash), Consumer.of(row)

    def new_session(self, consumer_id: str, *, password_hash: str | None = None) -> str:
        """A new session token; with ``password_hash`` (a sign-in's), only while the password
        is still that one."""
        token = "st_" + secrets.token_urlsafe(32)
        now = now_us()
        values = {
            "token_hash": token_hash(token),
            "consumer_id": consumer_id,
            "created_at_us": now,
            "expires_at_us": now + SESSION_US,
        }
        if password_hash is not None:
            sessions = wm.sessions.c.consumer_id
            self.sign_ins.session_while_unchanged(wm.consumers, sessions, password_hash, values)
            return token
        with write(self.engine) as conn:
            conn.execute(insert(wm.sessions).values(values))
        return token

    def sign_out(self, token: str) -> None:
        with write(self.engine) as conn:
            conn.execute(wm.sessions.delete().where(wm.sessions.c.token_hash == token_hash(token)))

    def sign_out_everywhere(
        self, consumer_id: str, *, with_it: Callable[[Connection, str], int] | None = None
    ) -> tuple[int, int]:
        """End every session of the wallet and, in the same commit, what ``with_it`` does (the
        devices' payment codes stopped): ``SignInTries.end_sessions``."""
        return self.sign_ins.end_sessions(wm.sessions.c.consumer_id, consumer_id, with_it=with_it)

    def change_password(
        self, consumer_id: str, current: str, new: str, *, keep_token: str = "", address: str = ""
    ) -> int:
        """A new password, the current one checked under the sign-in limit; every session but
        ``keep_token``'s ends with the change: how many ended."""
        return self.sign_ins.change_password(
            wm.consumers,
            wm.sessions.c.consumer_id,
            consumer_id,
            (current, new),
            keep_token_hash=token_hash(keep_token) if keep_token else "",
            address=address,
        )

    def for_token(self, token: str) -> Consumer | None:
        with alone(self.engine, writes=False) as conn:
            row = _BY_TOKEN.first(conn, {"hash": token_hash(token), "now": now_us()})
        return Consumer.of(row) if row else None

    def hold_session(self, conn: Connection, consumer_id: str, token: str) -> bool:
        """Whether ``token`` is a live session of the wallet, its row held (see SignInTries)."""
        return self.sign_ins.hold_session(conn, wm.sessions.c.consumer_id, consumer_id, token)

    @staticmethod
    def session_finder(token: str) -> tuple[Select[Any], Select[Any], dict[str, Any]]:
        """What ``for_token`` runs, for a statement that joins more to it: the holder's row,
        the holder's id alone, and their parameters."""
        return _BY_TOKEN.statement, _SESSION_HOLDER, {"hash": token_hash(token), "now": now_us()}

    def get(self, consumer_id: str) -> Consumer:
        with read(self.engine) as conn:
            row = conn.execute(_BY_ID, {"id": consumer_id}).first()
        if row is None:
            raise NotFound.named("consumer", consumer_id)
        return Consumer.of(row)

    def by_login(self, login: str) -> Consumer | None:
        with read(self.engine) as conn:
            row = conn.execute(select(wm.consumers).where(wm.consumers.c.login == login)).first()
        return Consumer.of(row) if row else None

    def verified_owner(self, identifier: str) -> Consumer | None:
        """The wallet that proved it owns this phone or e-mail: the only one money sent to it
        reaches."""
        with read(self.engine) as conn:
            row = conn.execute(
                select(wm.consumers)
                .join(identifiers, identifiers.c.consumer_id == wm.consumers.c.id)
                .where(identifiers.c.value == identifier, identifiers.c.verified_at_us > 0)
            ).first()
        return Consumer.of(row) if row else None

    def balance(self, consumer: Consumer) -> dict[str, int]:
        account = self.ledger.account(consumer.account_id)
        if account is None:  # pragma: no cover - a consumer row always has its account
            raise NotFound.named("wallet", consumer.id)
        return {
            "balance": account.balance,
            "available": account.available,
            "held": account.debits_pending,
        }

    # --- the PIN --------------------------------------------------------------------------------

    def set_pin(
        self,
        consumer_id: str,
        pin: str,
        *,
        password: str | None,
        old_pin: str | None,
        address: str = "",
    ) -> None:
        """Set the PIN the first time with the password (checked under the sign-in counts);
        change it with the old PIN."""
        check_pin(pin)
        with read(self.engine) as conn:
            row = conn.execute(select(wm.consumers).where(wm.consumers.c.id == consumer_id)).one()
        if row.pin_hash is None:
            if password is None:
                raise SignInFailed("setting the first PIN needs the password", field="password")
            with self.sign_ins.checking(consumer_id, "", address):
                if not password_matches(row.password_hash, password):
                    raise SignInFailed("the password is wrong", field="password")
        else:
            if old_pin is None:
                raise InvalidRequest("changing the PIN needs the current one", field="old_pin")
            self.verify_pin(consumer_id, old_pin, field="old_pin")
        with write(self.engine) as conn:
            conn.execute(
                update(wm.consumers)
                .where(wm.consumers.c.id == consumer_id)
                .values(
                    pin_hash=self.pins.seal(consumer_id, pin), pin_failures=0, pin_locked_until_us=0
                )
            )

    def verify_pin(self, consumer_id: str, pin: str, *, field: str = "pin") -> str:
        """The id of a recorded successful PIN check, or raise: PIN not set, PIN locked, wrong
        PIN (with the tries left). A try is claimed before the PIN is checked."""
        check_id, pending = self.verify_pin_later(consumer_id, pin, field=field)
        if pending is not None:
            self.pin_passed(pending)
        return check_id

    def verify_pin_later(
        self, consumer_id: str, pin: str, *, field: str = "pin", claimed: PinTry | None = None
    ) -> tuple[str, PinPass | None]:
        """As :meth:`verify_pin`, but on PostgreSQL the right PIN's try is given back and its
        check recorded later: the :class:`PinPass` returned, which the caller must pass.
        ``claimed``: the try, if a statement that did more claimed it already."""
        claimed = claimed or claim_pin_try(self.engine, wm.consumers, consumer_id, field=field)
        verdict = self.pins.check(claimed.pin_hash, consumer_id, pin)
        if not verdict.matches:
            raise pin_try_failed(self.engine, wm.consumers, consumer_id, field=field)
        check_id = new_id("pc")
        record = {"check_id": check_id, "consumer_id": consumer_id, "at": now_us()}
        if not verdict.renewed and not is_sqlite(self.engine):
            return check_id, PinPass(passed_params(consumer_id, claimed) | record)
        with write(self.engine) as conn:
            pin_try_passed(conn, wm.consumers, consumer_id, claimed)
            if verdict.renewed:  # an older form, sealed again under the current key
                c = wm.consumers.c
                conn.execute(
                    update(wm.consumers)
                    .where(c.id == consumer_id, c.pin_hash == claimed.pin_hash)
                    .values(pin_hash=verdict.renewed)
                )
            conn.execute(_RECORD_PIN_CHECK, record)
        return check_id, None

    def pin_passed(self, pending: PinPass) -> None:
        """Give the try back and record the check on their own, unless the movement the PIN
        authorised did (or this did before)."""
        if pending.done:
            return
        try:
            with alone(self.engine, writes=True) as conn:
                _PIN_PASSED_AND_RECORDED.run(conn, pending.params)
        except IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) != "23505":  # not the check's id taken
                raise
            # The check is recorded already: its movement committed with it.
        pending.done = True

    @staticmethod
    def pin_passed_in(tx: Tx, pending: PinPass) -> None:
        """Give the try back and record the check in ``tx``, the movement's transaction; once
        that commits, ``pending.committed()`` must be called."""
        tx.write(_PIN_PASSED_IN_TX, _PIN_PASSED_LITERALS | pending.params)

    def set_no_pin_limit(
        self, consumer_id: str, per_payment: int, per_day: int, pin: str
    ) -> Consumer:
        for field, value in (("per_payment", per_payment), ("per_day", per_day)):
            if not 0 <= value <= NO_PIN_LIMIT_MAX:
                raise InvalidRequest(
                    f"{field} must be between 0 and {NO_PIN_LIMIT_MAX} (minor units)", field=field
                )
        if per_day < per_payment:
            raise InvalidRequest("per_day cannot be below per_payment", field="per_day")
        self.verify_pin(consumer_id, pin)
        with write(self.engine) as conn:
            conn.execute(
                update(wm.consumers)
                .where(wm.consumers.c.id == consumer_id)
                .values(no_pin_limit=per_payment, no_pin_daily_limit=per_day)
            )
            # Timed after the row is locked, so no-PIN debits timed after it used these limits.
            conn.execute(
                insert(wm.no_pin_limit_changes).values(
                    consumer_id=consumer_id,
                    per_payment=per_payment,
                    per_day=per_day,
                    changed_at_us=now_us(),
                )
            )
        return self.get(consumer_id)

    def get_with_no_pin_look(self, consumer_id: str, amount: int) -> tuple[Consumer, bool]:
        """The consumer, and whether ``amount`` looks payable without the PIN now, judged from
        the same read: a first look that spares a waiting charge's round trip. What decides is
        ``reserve_no_pin``, inside the debit."""
        with alone(self.engine, writes=False) as conn:
            row = _BY_ID_BARE.first(conn, {"id": consumer_id})
        if row is None:
            raise NotFound.named("consumer", consumer_id)
        return self.no_pin_look(row, amount)

    def no_pin_look(self, row: Any, amount: int) -> tuple[Consumer, bool]:
        """``get_with_no_pin_look`` of a consumer's row read already (with a payment code's
        claim: ``saoma.paycode.service.Resolved.payer``)."""
        consumer = Consumer.of(row)
        if amount <= 0 or amount > min(consumer.no_pin_limit, AMOUNT_MINOR_MAX):
            return consumer, False
        return consumer, self._no_pin_left(row, amount)

    def _no_pin_left(self, row: Any, amount: int) -> bool:
        spent = row.no_pin_spent if row.no_pin_day == day_of(now_us(), self.tz) else 0
        return int(spent) + amount <= int(row.no_pin_daily_limit)

    def reserve_no_pin(self, tx: Tx, consumer_id: str, amount: int) -> int:
        """Take ``amount`` from today's no-PIN allowance inside the debit's own transaction.

        EVERY debit that goes without the PIN calls this in the hook that records it (a
        payment-code charge today; any kind added later must too), so the allowance commits or
        rolls back with the money and ONE conditional UPDATE decides, however many debits race.
        Returns the time the debit is recorded at (taken with the wallet's row locked, so a
        change of the limits is before or after it, as ``saoma check-authorisations`` sees
        it); raises ``OverNoPinLimit`` when the limits do not allow it.
        """
        if tx.postgres:  # lock first, then read the clock (SQLite's writer holds the file)
            # Looked at, so waited for: on the batch's pipeline the statement is only sent.
            locked = tx.execute(
                "SELECT id FROM consumers WHERE id = :id FOR UPDATE", {"id": consumer_id}
            )
            locked.fetchall()
        at = now_us()
        day = day_of(at, self.tz)
        tx.write_or_refuse(
            "UPDATE consumers SET"
            " no_pin_spent = CASE WHEN no_pin_day = :day THEN no_pin_spent + :amount"
            " ELSE :amount END,"
            " no_pin_day = :day"
            " WHERE id = :id AND :amount <= no_pin_limit"
            " AND CASE WHEN no_pin_day = :day THEN no_pin_spent ELSE 0 END + :amount"
            " <= no_pin_daily_limit",
            {"id": consumer_id, "amount": amount, "day": day},
            OverNoPinLimit,
        )
        return at
