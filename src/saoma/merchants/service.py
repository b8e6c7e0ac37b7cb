"""Merchants, from a busker with a phone to a chain with a POS, and their servers' keys.

Longer than usual: sign-up, sessions, the webhook secret, the manager PIN and the API keys all
read and write the one merchant row, and read best beside the ``Merchant`` they return.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace
from typing import Any, NoReturn
from urllib.parse import urlsplit

from sqlalchemy import (
    BigInteger,
    Select,
    String,
    Table,
    bindparam,
    case,
    delete,
    exists,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma import signing, targets
from saoma.core.errors import (
    InvalidRequest,
    KeyUnknown,
    LoginTaken,
    ManagerPinLocked,
    ManagerPinNotSet,
    ManagerPinWrong,
    NonceReused,
    NotFound,
    PasswordWrong,
    SignatureInvalid,
    SignInFailed,
    TimestampOutOfRange,
)
from saoma.core.ids import new_id, now_us, token_hash
from saoma.core.money import currency
from saoma.db import Bare, alone, is_sqlite, read, write, write_one
from saoma.ledger import AccountKind, Ledger
from saoma.merchants import tables as m
from saoma.wallets.credentials import (
    check_login,
    check_password,
    check_pin,
    hash_password,
    password_matches,
    unknown_login_hash,
)
from saoma.wallets.pinkeys import PinKeys
from saoma.wallets.signins import SignInTries

KEY_OVERLAP_US_DEFAULT = 24 * 3600 * 1_000_000  # a rotated-out key stays valid for a day
MANAGER_PIN_TRIES_MAX = 5
MANAGER_PIN_LOCK_US = 15 * 60 * 1_000_000  # locked for 15 minutes after 5 wrong tries
FEE_PPM_DEFAULT = 6000  # 0.6 %
# After a rotation, deliveries are signed with both secrets for a day: receivers switch meanwhile.
WEBHOOK_SECRET_OVERLAP_US = 24 * 3600 * 1_000_000
_MCC = re.compile(r"^[0-9]{4}\Z")
_HTTP_URL = re.compile(r"^https?://[^\s]+\Z")

# Statements of every signed request, built once: building one costs more than its round trip.
_SIGNER = Bare(
    select(
        m.merchants,
        m.merchant_keys.c.public_key.label("key_public"),
        m.merchant_keys.c.expires_at_us.label("key_expires_at_us"),
    )
    .join(m.merchant_keys, m.merchant_keys.c.merchant_id == m.merchants.c.id)
    .where(m.merchant_keys.c.id == bindparam("key_id"))
)  # read on every signed request: run on the driver directly
_INSERT_NONCE = Bare(  # every signed request's nonce: run on the driver directly
    insert(m.request_nonces).values(
        key_id=bindparam("key_id"), nonce=bindparam("n"), seen_at_us=bindparam("at")
    )
)
_KEY = m.merchant_keys.c
# PostgreSQL: the key and its merchant read and the nonce noted in one round trip where there
# were two. The nonce goes in only under a known key still in force, and ``nonce_fresh`` says it
# was new; a request whose signature then fails has its nonce taken out again (_FORGET_NONCE),
# so only a signed request spends one, as when the nonce was noted after the signature's check.
_NOTED = (
    pg_insert(m.request_nonces)
    .from_select(
        ["key_id", "nonce", "seen_at_us"],
        select(_KEY.id, bindparam("n", type_=String), bindparam("at", type_=BigInteger)).where(
            _KEY.id == bindparam("key_id"),
            or_(_KEY.expires_at_us.is_(None), _KEY.expires_at_us > bindparam("at")),
        ),
    )
    .on_conflict_do_nothing()
    .returning(m.request_nonces.c.key_id)
    .cte("noted")
)
_SIGNER_NOTING_NONCE = Bare(
    _SIGNER.statement.add_columns(exists(select(_NOTED.c.key_id)).label("nonce_fresh"))
)
# PostgreSQL, for a statement that joins more to the signer's read (an Idempotency-Key's claim):
# the merchant's id alone, once the nonce is noted (so a request whose nonce was spent claims
# nothing).
_SIGNER_NOTED = select(_KEY.merchant_id).where(
    _KEY.id == bindparam("key_id"), exists(select(_NOTED.c.key_id))
)
_FORGET_NONCE = Bare(
    delete(m.request_nonces).where(
        m.request_nonces.c.key_id == bindparam("key_id"),
        m.request_nonces.c.nonce == bindparam("n"),
    )
)
_MERCHANT_BY_ID = select(m.merchants).where(m.merchants.c.id == bindparam("id"))
_PREFIX = "merchant__"


@cache
def with_merchant(table: Table) -> Any:
    """A row of ``table`` by id with its merchant's columns (each named ``merchant__<name>``),
    built once per table."""
    mc = m.merchants.c
    return Bare(
        select(table, *(c.label(_PREFIX + c.name) for c in mc))
        .join(m.merchants, mc.id == table.c.merchant_id)
        .where(table.c.id == bindparam("row_id"))
    )


def merchant_in(row: Any) -> Merchant:
    """The merchant of a row read by ``with_merchant`` (or a statement built on it)."""
    values = row._asdict()
    return Merchant.of(SimpleNamespace(**{c.name: values[_PREFIX + c.name] for c in m.merchants.c}))


@dataclass(frozen=True, slots=True)
class Merchant:
    id: str
    login: str
    name: str
    name_zh: str
    city: str
    category_code: str
    account_id: int
    currency: str
    fee_ppm: int
    webhook_url: str
    webhook_secret: str
    has_manager_pin: bool = False

    @classmethod
    def of(cls, row: Any) -> Merchant:
        return cls(
            row.id,
            row.login,
            row.name,
            row.name_zh,
            row.city,
            row.category_code,
            row.account_id,
            row.currency,
            row.fee_ppm,
            row.webhook_url,
            row.webhook_secret,
            row.manager_pin_hash is not None,
        )

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "name_zh": self.name_zh,
            "city": self.city,
            "category_code": self.category_code,
            "currency": self.currency,
        }


def check_text(field: str, value: str, limit: int, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidRequest(f"{field} is required", field=field)
    if len(value) > limit:
        raise InvalidRequest(f"{field} is {limit} characters at most", field=field)
    if any(ord(ch) < 32 for ch in value):
        raise InvalidRequest(f"{field} must not contain control characters", field=field)
    return value


def check_webhook_url(url: str, field: str = "webhook_url") -> str:
    """An http(s) URL that does not name a loopback, private or other internal address.

    A name is checked when each delivery resolves it (see ``saoma.targets``).
    """
    url = url.strip()
    if not url:
        return url
    if len(url) > 2048 or not _HTTP_URL.match(url):
        raise InvalidRequest(f"{field} must be an http(s) URL", field=field)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port  # a port out of range or not a number: ValueError
    except ValueError as exc:
        raise InvalidRequest(f"{field} must be an http(s) URL", field=field) from exc
    if not host:
        raise InvalidRequest(f"{field} must name a host", field=field)
    if port == 0:
        raise InvalidRequest(f"{field} must name a port from 1 to 65535", field=field)
    try:  # as a delivery will send it: a name that is not valid IDNA could never be reached
        host.encode("idna")
    except UnicodeError as exc:
        raise InvalidRequest(f"{field} must name a valid host name", field=field) from exc
    ip = targets.literal_address(host)
    if ip is not None and not targets.private_allowed():
        reason = targets.why_not_public(ip)
        if reason:
            raise InvalidRequest(
                f"{field} must be a public internet address, not {ip} ({reason})", field=field
            )
    return url


def secret_view(row: Any, now: int) -> dict[str, Any]:
    rotated = row.webhook_secret_rotated_at_us
    overlap = (
        rotated is not None
        and row.webhook_secret_previous
        and (now < rotated + WEBHOOK_SECRET_OVERLAP_US)
    )
    return {
        "secret": row.webhook_secret,
        "previous_secret": row.webhook_secret_previous if overlap else None,
        "previous_valid_until_us": rotated + WEBHOOK_SECRET_OVERLAP_US if overlap else None,
        "rotated_at_us": rotated,
    }


def decode_public_key(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise InvalidRequest("public_key must be base64", field="public_key") from exc
    if len(raw) != 32:
        raise InvalidRequest(
            "public_key must be a raw 32-byte Ed25519 key in base64", field="public_key"
        )
    return raw


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A signed request as read from its headers (``Merchants.signed_request``)."""

    params: dict[str, Any]  # the key id, the nonce and when it was seen
    message: bytes  # what the signature signs
    signature: str


class Merchants:
    def __init__(
        self,
        engine: Engine,
        ledger: Ledger,
        *,
        currency_code: str = "CNY",
        fee_ppm: int = FEE_PPM_DEFAULT,
        key_overlap_us: int = KEY_OVERLAP_US_DEFAULT,
        pins: PinKeys | None = None,
    ) -> None:
        self.pins = pins or PinKeys(None)
        self.engine = engine
        self.ledger = ledger
        self.currency = currency(currency_code).alpha
        self.fee_ppm = fee_ppm
        self.key_overlap_us = key_overlap_us
        self.sign_ins = SignInTries(engine, "merchant", accounts=m.merchants)

    def sign_up(
        self,
        *,
        login: str,
        password: str,
        name: str,
        city: str,
        category_code: str = "5999",
        name_zh: str = "",
        webhook_url: str = "",
    ) -> Merchant:
        login = check_login(login)
        check_password(password)
        name_zh = check_text("name_zh", name_zh, 25, required=False)
        city = check_text("city", city, 15)
        if name_zh and not name.strip():  # a Chinese name alone: the code's Latin name says where
            name = f"{city} merchant"
        name = check_text("name", name, 25)
        if not _MCC.match(category_code):
            raise InvalidRequest(
                "category_code is a four-digit ISO 18245 code", field="category_code"
            )
        webhook_url = check_webhook_url(webhook_url)
        account_id = self._open_settlement_account()
        merchant_id = new_id("m")
        try:
            with write(self.engine) as conn:
                conn.execute(
                    insert(m.merchants).values(
                        id=merchant_id,
                        login=login,
                        password_hash=hash_password(password),
                        name=name,
                        name_zh=name_zh,
                        city=city,
                        category_code=category_code,
                        account_id=account_id,
                        currency=self.currency,
                        fee_ppm=self.fee_ppm,
                        webhook_url=webhook_url,
                        webhook_secret=signing.new_webhook_secret(),
                        created_at_us=now_us(),
                    )
                )
        except IntegrityError as exc:
            raise LoginTaken("this login already has a merchant", field="login") from exc
        return self.get(merchant_id)

    def _open_settlement_account(self) -> int:
        return self.ledger.open_account(self.currency, AccountKind.MERCHANT)

    def get(self, merchant_id: str) -> Merchant:
        with read(self.engine) as conn:
            row = conn.execute(_MERCHANT_BY_ID, {"id": merchant_id}).first()
        if row is None:
            raise NotFound.named("merchant", merchant_id)
        return Merchant.of(row)

    def many(self, merchant_ids: Iterable[str]) -> dict[str, Merchant]:
        """These merchants, by id, in one statement (an id not found is left out)."""
        ids = sorted(set(merchant_ids))
        if not ids:
            return {}
        with read(self.engine) as conn:
            rows = conn.execute(select(m.merchants).where(m.merchants.c.id.in_(ids))).all()
        return {r.id: Merchant.of(r) for r in rows}

    def row_with_merchant(self, table: Table, row_id: str) -> tuple[Any, Merchant] | None:
        """The row of ``table`` (one with a ``merchant_id``) and its merchant, in one round
        trip, or None when there is no such row."""
        with alone(self.engine, writes=False) as conn:
            row = with_merchant(table).first(conn, {"row_id": row_id})
        if row is None:
            return None
        return row, merchant_in(row)

    def sign_in(self, login: str, password: str, address: str = "", device: str = "") -> Merchant:
        """The merchant whose login and password these are; wrong passwords are limited per
        account and per ``address``, less for a known ``device`` (saoma.wallets.signins)."""
        return Merchant.of(self._signed_in(login, password, address, device))

    def sign_in_session(
        self, login: str, password: str, address: str = "", device: str = ""
    ) -> tuple[Merchant, str]:
        """:meth:`sign_in` and a new session token, made only while the password is still the
        one checked (a password changed meanwhile ends the sign-in, not only older sessions)."""
        row = self._signed_in(login, password, address, device)
        return Merchant.of(row), self.session_token(row.id, password_hash=row.password_hash)

    def _signed_in(self, login: str, password: str, address: str, device: str) -> Any:
        try:
            login = check_login(login)
        except InvalidRequest:
            login = ""
        with read(self.engine) as conn:
            row = conn.execute(select(m.merchants).where(m.merchants.c.login == login)).first()
        account_id, checked = (None, "") if row is None else (row.id, row.password_hash)
        with self.sign_ins.checking(account_id, login, address, device, checked):
            hashed = unknown_login_hash() if row is None else row.password_hash
            if not password_matches(hashed, password) or row is None:
                raise SignInFailed("wrong login or password")
        return row

    def set_webhook_url(self, merchant_id: str, url: str) -> Merchant:
        url = check_webhook_url(url)
        with write(self.engine) as conn:
            conn.execute(
                update(m.merchants).where(m.merchants.c.id == merchant_id).values(webhook_url=url)
            )
        return self.get(merchant_id)

    # --- the webhook secret -------------------------------------------------------------------

    def webhook_secret(self, merchant_id: str) -> dict[str, Any]:
        """The secret deliveries are signed with and, during a rotation, the previous one."""
        with read(self.engine) as conn:
            row = conn.execute(_MERCHANT_BY_ID, {"id": merchant_id}).first()
        if row is None:
            raise NotFound.named("merchant", merchant_id)
        return secret_view(row, now_us())

    def rotate_webhook_secret(self, merchant_id: str) -> dict[str, Any]:
        """A new secret at once; the current one also signs deliveries for the next 24 hours.

        A second rotation within the day ends the overlap of the first: only the last two
        secrets sign.
        """
        with write(self.engine) as conn:
            conn.execute(
                update(m.merchants)
                .where(m.merchants.c.id == merchant_id)
                .values(
                    webhook_secret_previous=m.merchants.c.webhook_secret,
                    webhook_secret=signing.new_webhook_secret(),
                    webhook_secret_rotated_at_us=now_us(),
                )
            )
        return self.webhook_secret(merchant_id)

    # --- the manager PIN ------------------------------------------------------------------------

    def set_manager_pin(
        self,
        merchant_id: str,
        pin: str,
        *,
        password: str | None,
        old_pin: str | None,
        address: str = "",
    ) -> None:
        """Set the manager PIN the first time with the password (checked under the sign-in
        counts: a cashier with the till's session cannot guess it); change it with the old
        PIN."""
        check_pin(pin, "manager_pin")
        with read(self.engine) as conn:
            row = conn.execute(_MERCHANT_BY_ID, {"id": merchant_id}).first()
        if row is None:
            raise NotFound.named("merchant", merchant_id)
        if row.manager_pin_hash is None:
            if password is None:
                raise PasswordWrong("setting the manager PIN needs the password", field="password")
            with self.sign_ins.checking(merchant_id, "", address):
                if not password_matches(row.password_hash, password):
                    raise PasswordWrong(
                        "setting the manager PIN needs the password", field="password"
                    )
        else:
            if old_pin is None:
                raise InvalidRequest(
                    "changing the manager PIN needs the current one", field="old_pin"
                )
            self.verify_manager_pin(merchant_id, old_pin, field="old_pin")
        with write(self.engine) as conn:
            conn.execute(
                update(m.merchants)
                .where(m.merchants.c.id == merchant_id)
                .values(
                    manager_pin_hash=self.pins.seal(merchant_id, pin),
                    manager_pin_failures=0,
                    manager_pin_locked_until_us=0,
                )
            )

    def verify_manager_pin(self, merchant_id: str, pin: str, *, field: str = "manager_pin") -> None:
        """Pass, or raise: not set, locked, or wrong (with the tries left).

        Each check first claims a try with one conditional UPDATE, so concurrent guesses can
        never check more than five PINs before the lock; a right PIN gives the tries back.
        """
        now = now_us()
        failures = m.merchants.c.manager_pin_failures
        with write_one(self.engine) as conn:
            claimed = conn.execute(
                update(m.merchants)
                .where(
                    m.merchants.c.id == merchant_id,
                    m.merchants.c.manager_pin_hash.is_not(None),
                    m.merchants.c.manager_pin_locked_until_us <= now,
                )
                .values(
                    # A lock that has run out starts a fresh count.
                    manager_pin_failures=case(
                        (failures >= MANAGER_PIN_TRIES_MAX, 1), else_=failures + 1
                    ),
                    manager_pin_locked_until_us=case(
                        (failures == MANAGER_PIN_TRIES_MAX - 1, now + MANAGER_PIN_LOCK_US),
                        else_=m.merchants.c.manager_pin_locked_until_us,
                    ),
                )
                .returning(m.merchants.c.manager_pin_hash, failures)
            ).first()
        if claimed is None:
            self._manager_pin_refusal(merchant_id, now, field)
        stored = claimed.manager_pin_hash
        verdict = self.pins.check(stored, merchant_id, pin)
        if verdict.matches:
            c = m.merchants.c
            with write_one(self.engine) as conn:
                conn.execute(
                    update(m.merchants)
                    .where(c.id == merchant_id)
                    .values(manager_pin_failures=0, manager_pin_locked_until_us=0)
                )
                if verdict.renewed:  # an older form, sealed again under the current key
                    conn.execute(
                        update(m.merchants)
                        .where(c.id == merchant_id, c.manager_pin_hash == stored)
                        .values(manager_pin_hash=verdict.renewed)
                    )
            return
        left = MANAGER_PIN_TRIES_MAX - claimed.manager_pin_failures
        raise ManagerPinWrong(
            f"wrong manager PIN: {left} tries left"
            if left
            else "wrong manager PIN: locked for 15 minutes",
            field=field,
            tries_left=left,
        )

    def _manager_pin_refusal(self, merchant_id: str, now: int, field: str) -> NoReturn:
        """Why no try could be claimed: no PIN set, or locked."""
        with read(self.engine) as conn:
            row = conn.execute(_MERCHANT_BY_ID, {"id": merchant_id}).first()
        if row is None:
            raise NotFound.named("merchant", merchant_id)
        if row.manager_pin_hash is None:
            raise ManagerPinNotSet("set a manager PIN in the dashboard first", field=field)
        minutes = max(1, (row.manager_pin_locked_until_us - now) // 60_000_000)
        raise ManagerPinLocked(
            f"too many wrong manager PINs: try again in {minutes} minute(s)",
            field=field,
            locked_until_us=row.manager_pin_locked_until_us,
        )

    def balance(self, merchant: Merchant) -> int:
        """The merchant's own money: its account less the overdraft allowance the platform put
        there (negative when refunds after a payout used some of it)."""
        self.ledger.expire_due(account_id=merchant.account_id)
        # One statement reads both, so an allowance moved meanwhile (its transfer and its
        # amount commit together) is seen whole or not at all: two reads once showed a new
        # merchant 50,000 below its balance. Settlement's table is named in SQL only (it sits
        # above this package).
        with read(self.engine) as conn:
            own = conn.execute(
                text(
                    "SELECT a.credits_posted - a.debits_posted"
                    " - COALESCE((SELECT overdraft_granted FROM settlement_terms"
                    " WHERE merchant_id = :m), 0)"
                    " FROM accounts a WHERE a.id = :account"
                ),
                {"m": merchant.id, "account": merchant.account_id},
            ).scalar()
        return int(own or 0)

    # --- keys -----------------------------------------------------------------------------------

    def add_key(self, merchant_id: str, public_key_b64: str, *, rotate: bool = False) -> str:
        """Register a public key; with ``rotate`` the older keys stay valid for the overlap only."""
        raw = decode_public_key(public_key_b64)
        key_id = "k_" + secrets.token_hex(8)
        now = now_us()
        with write(self.engine) as conn:
            if rotate:
                conn.execute(
                    update(m.merchant_keys)
                    .where(
                        m.merchant_keys.c.merchant_id == merchant_id,
                        m.merchant_keys.c.expires_at_us.is_(None),
                    )
                    .values(expires_at_us=now + self.key_overlap_us)
                )
            conn.execute(
                insert(m.merchant_keys).values(
                    id=key_id, merchant_id=merchant_id, public_key=raw, created_at_us=now
                )
            )
        return key_id

    def keys(self, merchant_id: str) -> list[dict[str, Any]]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(m.merchant_keys)
                .where(m.merchant_keys.c.merchant_id == merchant_id)
                .order_by(m.merchant_keys.c.created_at_us)
            ).all()
        return [
            {
                "id": r.id,
                "public_key": base64.b64encode(r.public_key).decode(),
                "created_at_us": r.created_at_us,
                "expires_at_us": r.expires_at_us,
            }
            for r in rows
        ]

    def revoke_key(self, merchant_id: str, key_id: str) -> None:
        with write(self.engine) as conn:
            done = conn.execute(
                update(m.merchant_keys)
                .where(m.merchant_keys.c.id == key_id, m.merchant_keys.c.merchant_id == merchant_id)
                .values(expires_at_us=now_us())
            )
        if done.rowcount != 1:
            raise NotFound.named("key", key_id)

    def authenticate(
        self, headers: dict[str, str], method: str, path_qs: str, body: bytes
    ) -> Merchant:
        """The merchant whose key signed this request, or a refusal saying what is wrong."""
        signed = self.signed_request(headers, method, path_qs, body)
        sqlite = is_sqlite(self.engine)
        with alone(self.engine, writes=not sqlite) as conn:
            row = (_SIGNER if sqlite else _SIGNER_NOTING_NONCE).first(conn, signed.params)
        merchant = self.signer(signed, row)
        if sqlite:
            try:
                with alone(self.engine, writes=True) as conn:
                    _INSERT_NONCE.run(conn, signed.params)
            except IntegrityError as exc:
                raise NonceReused("this nonce was already used", field=signing.NONCE) from exc
        return merchant

    @staticmethod
    def signed_request(
        headers: dict[str, str], method: str, path_qs: str, body: bytes
    ) -> SignedRequest:
        """A signed request's headers, each in its format, and its timestamp in range: what
        finding its signer needs. No database is asked."""
        signed = signing.read_signed_headers(headers)  # each header in its format, or 401
        if abs(signed.timestamp - now_us() // 1_000_000) > signing.CLOCK_SKEW_S:
            raise TimestampOutOfRange(
                "Saoma-Timestamp is more than 5 minutes away from the server's clock",
                field=signing.TIMESTAMP,
            )
        message = signing.signing_string(method, path_qs, signed.timestamp_text, signed.nonce, body)
        params = {"key_id": signed.key_id, "n": signed.nonce, "at": now_us()}
        return SignedRequest(params, message, signed.signature)

    @staticmethod
    def signer_finder(signed: SignedRequest) -> tuple[Select[Any], Select[Any], dict[str, Any]]:
        """PostgreSQL: what ``authenticate`` runs, for a statement that joins more to it (an
        Idempotency-Key's claim): the key with its merchant (the nonce noted), the merchant's
        id alone once the nonce was new, and their parameters. ``signer`` judges the row."""
        return _SIGNER_NOTING_NONCE.statement, _SIGNER_NOTED, signed.params

    def signer(self, signed: SignedRequest, row: Any) -> Merchant:
        """The merchant of ``row`` (the signer's read), if the request's signature is theirs and,
        on PostgreSQL, its nonce was new; otherwise the refusal. A request whose signature
        fails has its nonce taken out again."""
        now = signed.params["at"]
        if row is None or (row.key_expires_at_us is not None and row.key_expires_at_us <= now):
            raise KeyUnknown("unknown or expired key id", field=signing.KEY_ID)
        fresh = getattr(row, "nonce_fresh", None)  # None: SQLite, noted after the check
        if not signing.verify_request(row.key_public, signed.signature, signed.message):
            if fresh:
                with alone(self.engine, writes=True) as conn:
                    _FORGET_NONCE.run(conn, signed.params)
            raise SignatureInvalid("the signature does not match the request")
        if fresh is False:
            raise NonceReused("this nonce was already used", field=signing.NONCE)
        return Merchant.of(row)

    def purge_nonces(self) -> int:
        """Forget nonces old enough that their timestamps would be refused anyway."""
        cutoff = now_us() - signing.NONCE_TTL_S * 1_000_000
        with write(self.engine) as conn:
            gone = conn.execute(
                delete(m.request_nonces).where(m.request_nonces.c.seen_at_us < cutoff)
            )
        return int(gone.rowcount or 0)

    def session_token(self, merchant_id: str, *, password_hash: str | None = None) -> str:
        """A bearer token for the cashier and dashboard pages; with ``password_hash`` (a
        sign-in's), only while the password is still that one."""
        token = "mt_" + secrets.token_urlsafe(32)
        now = now_us()
        values = {
            "token_hash": token_hash(token),
            "merchant_id": merchant_id,
            "created_at_us": now,
            "expires_at_us": now + 30 * 24 * 3600 * 1_000_000,
        }
        if password_hash is not None:
            owner = m.merchant_sessions.c.merchant_id
            self.sign_ins.session_while_unchanged(m.merchants, owner, password_hash, values)
            return token
        with write(self.engine) as conn:
            conn.execute(insert(m.merchant_sessions).values(values))
        return token

    def sign_out(self, token: str) -> None:
        with write(self.engine) as conn:
            conn.execute(
                delete(m.merchant_sessions).where(
                    m.merchant_sessions.c.token_hash == token_hash(token)
                )
            )

    def sign_out_everywhere(self, merchant_id: str) -> int:
        """End every session of the shop (a lost till, a cashier gone): how many ended."""
        return self.sign_ins.end_sessions(m.merchant_sessions.c.merchant_id, merchant_id)[0]

    def change_password(
        self, merchant_id: str, current: str, new: str, *, keep_token: str = "", address: str = ""
    ) -> int:
        """A new password, the current one checked under the sign-in limit; every session but
        ``keep_token``'s ends with the change: how many ended."""
        return self.sign_ins.change_password(
            m.merchants,
            m.merchant_sessions.c.merchant_id,
            merchant_id,
            (current, new),
            keep_token_hash=token_hash(keep_token) if keep_token else "",
            address=address,
        )

    def for_token(self, token: str) -> Merchant | None:
        with read(self.engine) as conn:
            row = conn.execute(
                select(m.merchants)
                .join(m.merchant_sessions, m.merchant_sessions.c.merchant_id == m.merchants.c.id)
                .where(
                    m.merchant_sessions.c.token_hash == token_hash(token),
                    m.merchant_sessions.c.expires_at_us > now_us(),
                )
            ).first()
        return Merchant.of(row) if row else None
