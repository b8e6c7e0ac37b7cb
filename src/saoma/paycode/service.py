"""Enrolling devices, resolving a scanned code to the wallet, refusing what must be refused."""

from __future__ import annotations

import base64
import contextlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, true, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import (
    CodeExpired,
    CodeMalformed,
    CodeUnknown,
    CodeUsed,
    NotFound,
    TooManyTries,
    Unauthenticated,
)
from saoma.core.ids import new_id, now_us
from saoma.db import Bare, alone, is_sqlite, read, write
from saoma.paycode import codes
from saoma.paycode import tables as m
from saoma.windows import (
    claim_pair_statement,
    claim_params,
    claim_statement,
    settle_statement,
    under_way_statement,
)

HANDLES_PER_DEVICE = 100
FAILURES_MAX = 5  # per terminal per minute; then the terminal waits
MERCHANT_FAILURES_MAX = 20  # per merchant per minute, whatever terminal ids it sends
FAILURE_WINDOW_US = 60 * 1_000_000
CLAIM_WAIT_S = 5.0  # how long a check waits for a try while every try is taken
CLAIM_RETRY_S = 0.02

# Statements every charge runs, built once.
_H, _D = m.paycode_handles.c, m.paycode_devices.c
HANDLE = (
    select(m.paycode_handles, m.paycode_devices)
    .join(m.paycode_devices, _D.id == _H.device_id)
    .where(_H.handle == bindparam("h"))
)
# The handle used, unless it was used before by something else than ``by`` (None: anything).
USE_HANDLE = (
    update(m.paycode_handles)
    .where(
        _H.handle == bindparam("h"),
        or_(_H.used_at_us.is_(None), _H.used_for == bindparam("by")),
    )
    .values(used_at_us=func.coalesce(_H.used_at_us, bindparam("at")), used_for=bindparam("by"))
)
# A try settled: counted as a wrong code (``counted`` 1) or given back (0).
SETTLE = settle_statement(m.paycode_failures, "terminal", "failures", "pending")
UNDER_WAY = under_way_statement(m.paycode_failures, "terminal", "pending", "failures")
# PostgreSQL: the terminal's try and then the merchant's claimed by one statement, which also
# reads the code's handle (NULLs when there is none). The code is checked only once both tries
# are claimed: a refused claim's row is never looked at.
_F = m.paycode_failures.c
_CLAIMED = claim_pair_statement(
    m.paycode_failures, key_column="terminal", count_column="failures", pending_column="pending"
).subquery("claimed")
_HANDLE_ROW = HANDLE.subquery("code_handle")
_READ = ("device_id", "wallet_id", "secret", "revoked_at_us")


def claim_both(payer: Table | None = None) -> Bare:
    """The claim of both tries with the handle's row; with ``payer`` (the table of the wallets
    codes pay from, keyed by ``id``), the payer's row too, as its own columns."""
    columns = [_HANDLE_ROW.c[name] for name in _READ]
    joined = _CLAIMED.outerjoin(_HANDLE_ROW, true())
    if payer is not None:
        joined = joined.outerjoin(payer, payer.c.id == _HANDLE_ROW.c.wallet_id)
        columns += list(payer.c)
    return Bare(select(_CLAIMED, *columns).select_from(joined))


CLAIM_BOTH = claim_both()
# PostgreSQL: a real code's handle used and both its tries given back by one statement, where a
# transaction of three took five round trips. The terminal's row is given back before the
# merchant's (the second waits on the first), the order every claim and settlement takes them
# in, so two of these statements and a claim never wait on each other in a circle.
_USED = USE_HANDLE.returning(_H.handle).cte("used")
_GIVEN_FIRST = SETTLE.returning(_F.terminal).cte("given_first")  # bound with counted 0
_GIVEN_SECOND = (
    settle_statement(m.paycode_failures, "terminal", "failures", "pending", key_param="key2")
    .where(select(_GIVEN_FIRST.c.terminal).exists())
    .returning(_F.terminal)
    .cte("given_second")
)
USE_AND_GIVE_BACK = Bare(
    select(
        select(func.count()).select_from(_USED).scalar_subquery().label("used"),
        select(func.count()).select_from(_GIVEN_SECOND).scalar_subquery().label("given_back"),
    )
)


_NOT_READ = object()  # a claim that read no handle (SQLite): the check reads it


@dataclass(frozen=True, slots=True)
class _Refusal:
    """A claim refused: the key whose try it was, that key's limit, and the answer."""

    key: str
    limit: int
    problem: TooManyTries


@dataclass(frozen=True, slots=True)
class Resolved:
    wallet_id: str
    device_id: str
    handle: str
    payer: Any = None  # the payer's row, read with the claim (PostgreSQL, ``payer`` given)


class PaymentCodes:
    def __init__(
        self,
        engine: Engine,
        *,
        merchant_failures_max: int = MERCHANT_FAILURES_MAX,
        payer: Table | None = None,
    ) -> None:
        """``payer``: the table of the wallets codes pay from (keyed by ``id``, a device's
        ``wallet_id``); given, a claim on PostgreSQL reads the payer's row with the code's, and
        ``Resolved.payer`` holds it, a round trip spared."""
        self.engine = engine
        self.merchant_failures_max = merchant_failures_max
        self._reads_payer = payer is not None
        self._claim_both_sql = CLAIM_BOTH if payer is None else claim_both(payer)

    def enrol(
        self,
        wallet_id: str,
        label: str = "",
        *,
        while_signed_in: Callable[[Connection], bool] | None = None,
    ) -> dict[str, Any]:
        """A new device: its secret and a first batch of handles, shown to the device once.
        ``while_signed_in``: the check, in the enrolment's transaction, that the session asking
        still lives (``Wallets.hold_session``); a device is then never made after its wallet
        signed out everywhere, which stops every device it has."""
        device_id = new_id("dev")
        secret = secrets.token_bytes(32)
        with write(self.engine) as conn:
            if while_signed_in is not None and not while_signed_in(conn):
                raise Unauthenticated("the session has ended: sign in again")
            conn.execute(
                insert(m.paycode_devices).values(
                    id=device_id,
                    wallet_id=wallet_id,
                    secret=secret,
                    label=label[:64],
                    created_at_us=now_us(),
                )
            )
        handles = self._issue(device_id)
        if while_signed_in is not None:
            try:
                self._device(wallet_id, device_id)
            except NotFound:  # stopped by a sign-out everywhere as its handles were issued
                h = m.paycode_handles.c
                with write(self.engine) as conn:  # those issued after the stop: none will pay
                    conn.execute(delete(m.paycode_handles).where(h.device_id == device_id))
                raise Unauthenticated("the session has ended: sign in again") from None
        return {
            "device_id": device_id,
            "secret": base64.b64encode(secret).decode(),
            "step_s": codes.STEP_S,
            "handles": handles,
        }

    def replenish(self, wallet_id: str, device_id: str) -> list[str]:
        self._device(wallet_id, device_id)
        return self._issue(device_id)

    def _device(self, wallet_id: str, device_id: str) -> Any:
        with read(self.engine) as conn:
            row = conn.execute(
                select(m.paycode_devices).where(m.paycode_devices.c.id == device_id)
            ).first()
        if row is None or row.wallet_id != wallet_id or row.revoked_at_us is not None:
            raise NotFound.named("device", device_id)
        return row

    def _issue(self, device_id: str) -> list[str]:
        handles: list[str] = []
        while len(handles) < HANDLES_PER_DEVICE:
            batch = {f"{secrets.randbelow(10**codes.HANDLE_DIGITS):010d}" for _ in range(20)}
            try:
                with write(self.engine) as conn:
                    conn.execute(
                        insert(m.paycode_handles),
                        [{"handle": h, "device_id": device_id} for h in batch],
                    )
                handles.extend(batch)
            except IntegrityError:  # a handle already out there: draw that batch again
                continue
        return handles[:HANDLES_PER_DEVICE]

    def revoke(self, wallet_id: str, device_id: str) -> None:
        """The device's codes die at once: its handles are gone."""
        self._device(wallet_id, device_id)
        with write(self.engine) as conn:
            conn.execute(
                update(m.paycode_devices)
                .where(m.paycode_devices.c.id == device_id)
                .values(revoked_at_us=now_us())
            )
            conn.execute(
                delete(m.paycode_handles).where(
                    m.paycode_handles.c.device_id == device_id,
                    m.paycode_handles.c.used_at_us.is_(None),
                )
            )

    @staticmethod
    def revoke_all(conn: Connection, wallet_id: str) -> int:
        """Every device of the wallet stops making codes (a lost phone), in the caller's
        transaction: how many were live."""
        d, h = m.paycode_devices.c, m.paycode_handles.c
        revoked = conn.execute(
            update(m.paycode_devices)
            .where(d.wallet_id == wallet_id, d.revoked_at_us.is_(None))
            .values(revoked_at_us=now_us())
        ).rowcount
        mine = select(d.id).where(d.wallet_id == wallet_id)
        conn.execute(delete(m.paycode_handles).where(h.device_id.in_(mine), h.used_at_us.is_(None)))
        return int(revoked)

    def devices(self, wallet_id: str) -> list[dict[str, Any]]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(m.paycode_devices).where(
                    m.paycode_devices.c.wallet_id == wallet_id,
                    m.paycode_devices.c.revoked_at_us.is_(None),
                )
            ).all()
        return [{"id": r.id, "label": r.label} for r in rows]

    def resolve(
        self,
        code: str,
        terminal: str,
        *,
        at_s: float | None = None,
        merchant: str | None = None,
        used_for: str | None = None,
    ) -> Resolved:
        """The wallet behind a scanned code, consuming it; or why not.

        ``used_for`` names what uses the code (a charge: "<merchant id>/<order number>"): a code
        used before for the same may be used again, as when a till sends a charge again whose
        first try's outcome it never heard and which wrote nothing (what the code pays for is
        then made at most once by its own key, the order number).

        ``terminal`` is "<merchant id>/<terminal id>"; guesses are limited per terminal and per
        merchant, a try being claimed from both before the code is checked (see ``_claim``).
        A wrong code (malformed, unknown, expired) is counted; a real one, used or not, is no
        guess and its tries are given back, as are those of a check that failed on its own.
        """
        parts = codes.split(code)
        handle = "" if parts is None else parts[0]
        merchant_key = terminal.partition("/")[0] if merchant is None else merchant
        keys, row = self._claim(merchant_key, terminal, handle)
        try:
            row = self._check(parts, row, at_s)
        except (CodeMalformed, CodeUnknown, CodeExpired):
            self._settle(keys, counted=1)
            raise
        except BaseException:
            with contextlib.suppress(Exception):  # the database may be what failed: stale soon
                self._settle(keys, counted=0)
            raise
        if is_sqlite(self.engine):
            with write(self.engine) as conn:
                used = conn.execute(
                    USE_HANDLE, {"h": handle, "at": now_us(), "by": used_for}
                ).rowcount
                conn.execute(SETTLE, [{"key": key, "counted": 0} for key in keys])
        else:
            with alone(self.engine, writes=True) as conn:
                params = {
                    "h": handle,
                    "at": now_us(),
                    "by": used_for,
                    "key": keys[0],
                    "key2": keys[1],
                    "counted": 0,
                }
                used = USE_AND_GIVE_BACK.first(conn, params).used
        if used != 1:  # used before, or the same code at two terminals at once
            raise CodeUsed("this payment code was already used: refresh it", field="code")
        payer = row if self._reads_payer and not is_sqlite(self.engine) else None
        if payer is not None and payer.id is None:  # no such wallet: its own read says so
            payer = None
        return Resolved(row.wallet_id, row.device_id, handle, payer)

    def _check(self, parts: tuple[str, str] | None, row: Any, at_s: float | None) -> Any:
        """The handle's row of a real, fresh code (``parts``, read with the claim as ``row``
        unless it is ``_NOT_READ``); or why not."""
        if parts is None:
            raise CodeMalformed("a payment code is 18 digits starting with 28", field="code")
        handle, given = parts
        if row is _NOT_READ:
            with read(self.engine) as conn:
                row = conn.execute(HANDLE, {"h": handle}).first()
        if row is None or row.revoked_at_us is not None:
            raise CodeUnknown("this payment code is not valid", field="code")
        step = codes.time_step(time.time() if at_s is None else at_s)
        fresh = any(
            hmac.compare_digest(codes.mac(row.secret, handle, s), given) for s in (step, step - 1)
        )
        if not fresh:
            old = any(
                hmac.compare_digest(codes.mac(row.secret, handle, s), given)
                for s in range(step - 20, step - 1)
            )
            if old:
                raise CodeExpired("this payment code has expired: refresh it", field="code")
            raise CodeUnknown("this payment code is not valid", field="code")
        return row

    def _claim(self, merchant: str, terminal: str, handle: str) -> tuple[list[str], Any]:
        """Claim one try from the terminal's and the merchant's allowance before a code is
        checked, or refuse with 429. A try is claimed as under way and settled by the check.

        Each claim is one conditional upsert, so concurrent requests can never check more codes
        than the limits allow. The terminal's row is taken first, the merchant's (shared by all
        its terminals) last and held only until the commit that follows. On SQLite both claims
        commit together or not at all; on PostgreSQL one statement claims both, the merchant's
        only if the terminal's was, and a terminal's try whose merchant refused is given back
        at once (meanwhile a check at that terminal sees one more try under way).

        A claim refused while codes are being checked waits for one of them to be settled (a
        busy till's real codes give their tries back within milliseconds); one refused with
        none under way and none free is refused at once, so wrong codes sent on and on hold no
        worker; a try given back between the refusal and that look is claimed again (at once
        the first time, after a pause if another request took it first).

        Returns the keys claimed and, on PostgreSQL, ``handle``'s row read by the same statement
        (None when there is no such handle; ``_NOT_READ`` on SQLite).
        """
        deadline = time.monotonic() + CLAIM_WAIT_S
        again = True  # one claim again at once, for a try given back since the refusal
        while True:
            claimed = self._claim_once(merchant, terminal, handle)
            if not isinstance(claimed, _Refusal):
                return claimed
            if time.monotonic() >= deadline:
                raise claimed.problem
            pending, counted = self._under_way(claimed.key)
            room = counted + pending < claimed.limit
            if again and room:
                again = False
                continue
            again = True
            if not pending and not room:  # none under way and none free: the window is used up
                raise claimed.problem
            time.sleep(CLAIM_RETRY_S)

    def _claim_once(
        self, merchant: str, terminal: str, handle: str
    ) -> tuple[list[str], Any] | _Refusal:
        """The keys claimed (and the handle's row, as ``_claim``), or the refusal (nothing
        claimed then)."""
        now = now_us()
        if not is_sqlite(self.engine):
            return self._claim_both(merchant, terminal, handle, now)
        keys: list[str] = []
        refused: _Refusal | None = None
        try:
            with write(self.engine) as conn:
                for key, limit, field, who in (
                    (terminal, FAILURES_MAX, "terminal_id", "this terminal"),
                    (merchant, self.merchant_failures_max, "code", "this merchant's terminals"),
                ):
                    window = conn.execute(
                        self._claimed, claim_params(key, limit, FAILURE_WINDOW_US, now)
                    ).scalar()
                    if window is None:
                        refused = _Refusal(key, limit, _too_many(who, field))
                        raise refused.problem  # rolls the terminal's claim back with the merchant's
                    keys.append(key)
        except TooManyTries:
            if refused is None:  # pragma: no cover - only the refusal above is raised here
                raise
            return refused
        return keys, _NOT_READ

    def _claim_both(
        self, merchant: str, terminal: str, handle: str, now: int
    ) -> tuple[list[str], Any] | _Refusal:
        """``_claim_once`` on PostgreSQL: one statement claims the terminal's try and then the
        merchant's, and reads ``handle``'s row; if the merchant's try is refused, the
        terminal's is given back at once."""
        params = claim_params(terminal, FAILURES_MAX, FAILURE_WINDOW_US, now)
        params |= {"key2": merchant, "limit2": self.merchant_failures_max, "h": handle}
        with alone(self.engine, writes=True) as conn:
            claimed = self._claim_both_sql.first(conn, params)
        if claimed.first and claimed.second:
            return [terminal, merchant], (None if claimed.device_id is None else claimed)
        if not claimed.first:
            return _Refusal(terminal, FAILURES_MAX, _too_many("this terminal", "terminal_id"))
        self._settle([terminal], counted=0)
        problem = _too_many("this merchant's terminals", "code")
        return _Refusal(merchant, self.merchant_failures_max, problem)

    @property
    def _claimed(self) -> Any:
        return claim_statement(
            self.engine,
            m.paycode_failures,
            key_column="terminal",
            count_column="failures",
            pending_column="pending",
        )

    def _under_way(self, key: str) -> tuple[int, int]:
        """The tries under way for ``key`` and those counted in its window, as of now."""
        params = {"key": key, "now": now_us(), "window_us": FAILURE_WINDOW_US}
        with read(self.engine) as conn:
            row = conn.execute(UNDER_WAY, params).first()
        return (0, 0) if row is None else (int(row.pending), int(row.counted))

    def _settle(self, keys: list[str], *, counted: int) -> None:
        with write(self.engine) as conn:
            conn.execute(SETTLE, [{"key": key, "counted": counted} for key in keys])


def _too_many(who: str, field: str) -> TooManyTries:
    return TooManyTries(f"too many invalid codes at {who}: wait a minute", field=field)
