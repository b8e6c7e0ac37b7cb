"""Mandates: a merchant asks, the payer agrees with the PIN, pauses, resumes or revokes at once.

Every change of state is ONE conditional UPDATE (the state it leaves is in its WHERE), with its
event, in one transaction: a pause or a revocation that races a debit either commits after the
debit or makes the debit's own UPDATE find the mandate no longer active. Debits are in
:mod:`saoma.mandates.debits`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, union_all
from sqlalchemy.engine import Engine

from saoma.core.errors import (
    InvalidRequest,
    MandateAmountAboveMax,
    MandateEnded,
    MandateNotAgreed,
    MandateNoticeUsed,
    MandateNotRequested,
    MandateNumberReused,
    MandatePaused,
    MandateRevoked,
    NotFound,
    PinRequired,
    SaomaError,
    not_found,
)
from saoma.core.ids import new_id, now_us
from saoma.db import read
from saoma.mandates import rules, views
from saoma.mandates import tables as t
from saoma.merchants.service import Merchant, check_text
from saoma.movements import Unit, insert_sql
from saoma.p2p.lookups import LookupLimit
from saoma.pagination import check_limit, choice, newest_first, parse_time_cursor, time_page_of
from saoma.payments.checks import check_amount, check_currency, check_merchant_ref
from saoma.payments.service import Payments
from saoma.payments.views import masked_name
from saoma.wallets.credentials import check_login
from saoma.wallets.service import Consumer

NOTICES_SHOWN_MAX = 20  # the newest notices shown with a mandate
DEBITS_SHOWN_MAX = 50  # the newest debits (and refusals) shown with a mandate
MANDATES_LISTED_MAX = 100  # a wallet's newest mandates
STATES = ("requested", "active", "paused", "revoked")
NOTICES_PENDING_MAX = 5  # notices waiting at once on one mandate
REQUESTS_MAX = 120  # mandates a merchant may ask for in REQUESTS_WINDOW_US (each finds a wallet)
REQUESTS_WINDOW_US = 10 * 60 * 1_000_000

_SAME_NUMBER_KEPT = " ON CONFLICT (merchant_id, merchant_mandate_no) DO NOTHING"
_MOVES = {
    # action: (states it leaves, state it reaches, event)
    "pause": (("active",), "paused", "mandate.paused"),
    "resume": (("paused",), "active", "mandate.resumed"),
    "revoke": (("requested", "active", "paused"), "revoked", "mandate.revoked"),
}


def _newest(table: Any, ids: list[str], most: int) -> Any:
    """The newest ``most`` rows of ``table`` of each of these mandates (each its own indexed
    ``LIMIT``, all in one statement); in no particular order."""
    c = table.c
    each = [
        select(table)
        .where(c.mandate_id == mandate_id)
        .order_by(c.created_at_us.desc(), c.id)
        .limit(most)
        .subquery()
        for mandate_id in ids
    ]
    return union_all(*(select(part) for part in each))


def _newest_first(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=lambda r: (-r.created_at_us, r.id))


class Mandates:
    def __init__(self, engine: Engine, payments: Payments, *, tz: ZoneInfo) -> None:
        self.engine = engine
        self.payments = payments
        self.ctx = payments.ctx
        self.tz = tz
        self.clock: Callable[[], int] = now_us  # microseconds; tests move it
        # A request tells whether a phone or e-mail has a wallet, and leaves a request in it.
        self.lookups = LookupLimit(
            engine, most=REQUESTS_MAX, window_us=REQUESTS_WINDOW_US, what="mandate requests"
        )

    # -- reading ------------------------------------------------------------------------------

    def row(self, mandate_id: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(select(t.mandates).where(t.mandates.c.id == mandate_id)).first()

    def of_merchant(self, merchant: Merchant, mandate_id: str) -> Any:
        row = self.row(mandate_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("mandate", mandate_id)
        return row

    def of_consumer(self, consumer: Consumer, mandate_id: str) -> Any:
        row = self.row(mandate_id)
        if row is None or row.consumer_id != consumer.id:
            raise not_found("mandate", mandate_id)
        return row

    def notice(self, notice_id: str) -> Any:
        n = t.mandate_notices.c
        with read(self.engine) as conn:
            return conn.execute(select(t.mandate_notices).where(n.id == notice_id)).first()

    def _around(self, rows: list[Any]) -> dict[str, tuple[list[Any], list[Any]]]:
        """Each mandate's newest notices and debits, by id: two statements for a whole page."""
        ids = [r.id for r in rows]
        if not ids:
            return {}
        notices: dict[str, list[Any]] = {i: [] for i in ids}
        debits: dict[str, list[Any]] = {i: [] for i in ids}
        with read(self.engine) as conn:
            for notice in conn.execute(_newest(t.mandate_notices, ids, NOTICES_SHOWN_MAX)):
                notices[notice.mandate_id].append(notice)
            for debit in conn.execute(_newest(t.mandate_debits, ids, DEBITS_SHOWN_MAX)):
                debits[debit.mandate_id].append(debit)
        return {i: (_newest_first(notices[i]), _newest_first(debits[i])) for i in ids}

    def view_for_consumer(self, row: Any) -> dict[str, Any]:
        return self._views([row], for_merchant=False)[0]

    def view_for_merchant(self, row: Any) -> dict[str, Any]:
        return self._views([row], for_merchant=True)[0]

    def _views(self, rows: list[Any], *, for_merchant: bool) -> list[dict[str, Any]]:
        """The mandates as their payer sees them (with the merchant) or as their merchant does
        (with the payer's masked name): a few statements for a whole page."""
        around = self._around(rows)
        whose: dict[str, dict[str, Any]]
        if for_merchant:
            names = self.payments.queries.payer_names([r.consumer_id for r in rows])
            whose = {r.id: {"payer": masked_name(names.get(r.consumer_id, ""))} for r in rows}
        else:
            merchants = self.ctx.merchants.many({r.merchant_id for r in rows})
            whose = {r.id: {"merchant": merchants[r.merchant_id].public()} for r in rows}
        now = self.clock()
        return [
            views.mandate_view(
                r,
                notices=around[r.id][0],
                debits=around[r.id][1],
                now=now,
                tz=self.tz,
                **whose[r.id],
            )
            for r in rows
        ]

    def list_for_consumer(self, consumer: Consumer) -> dict[str, Any]:
        """The wallet's mandates, newest first: those waiting for agreement too."""
        c = t.mandates.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(t.mandates)
                .where(c.consumer_id == consumer.id)
                .order_by(c.created_at_us.desc())
                .limit(MANDATES_LISTED_MAX)
            ).all()
        return {"data": self._views(list(rows), for_merchant=False)}

    def list_for_merchant(
        self,
        merchant: Merchant,
        *,
        cursor: str | None = None,
        limit: int = 20,
        state: str | None = None,
    ) -> dict[str, Any]:
        """A page of the merchant's mandates, newest first, of every state or of one."""
        limit = check_limit(limit)
        after = parse_time_cursor(cursor)
        c = t.mandates.c
        query = select(t.mandates).where(c.merchant_id == merchant.id)
        wanted = choice(state, "state", STATES)
        if wanted is not None:
            query = query.where(c.state == wanted)
        query = newest_first(query, c.created_at_us, c.id, after, limit)
        with read(self.engine) as conn:
            rows, next_cursor = time_page_of(conn.execute(query).all(), limit)
        return {"data": self._views(rows, for_merchant=True), "next_cursor": next_cursor}

    # -- the merchant asks --------------------------------------------------------------------

    def _payer(self, payer: str) -> Consumer:
        """The wallet ``payer`` names: its id, or a phone or e-mail its owner confirmed."""
        payer = payer.strip()
        try:
            if payer.startswith("c_"):
                return self.ctx.wallets.get(payer)
            found = self.ctx.wallets.verified_owner(check_login(payer))
        except SaomaError:
            found = None
        if found is None:
            raise NotFound("no wallet has this id or confirmed phone or e-mail", field="payer")
        return found

    def request(
        self,
        merchant: Merchant,
        *,
        payer: str,
        merchant_mandate_no: str,
        purpose: str,
        amount_max: int,
        currency: str,
        frequency: str,
        start_on: str,
        end_on: str,
    ) -> dict[str, Any]:
        """Ask a payer for a mandate; it waits in their wallet until they agree with the PIN.
        The merchant's mandate number makes it idempotent."""
        now = self.clock()
        number = check_merchant_ref(merchant_mandate_no, "merchant_mandate_no")
        row: dict[str, Any] = {
            "id": new_id("md"),
            "merchant_id": merchant.id,
            "merchant_mandate_no": number,
            "purpose": check_text("purpose", purpose, rules.PURPOSE_CHARS_MAX),
            "amount_max": check_amount(amount_max, "amount_max"),
            "currency": check_currency(currency, merchant.currency),
            "frequency": rules.check_frequency(frequency),
            "state": "requested",
            "created_at_us": now,
            "updated_at_us": now,
        }
        period = rules.period_of(start_on, end_on, self.tz, now)
        row |= {
            "start_on": period.start_on,
            "end_on": period.end_on,
            "starts_at_us": period.starts_at_us,
            "ends_at_us": period.ends_at_us,
        }
        existing = self._by_number(merchant.id, number)
        if existing is not None and payer.strip() == existing.consumer_id:
            row["consumer_id"] = existing.consumer_id  # a retry: no wallet is looked up
        else:
            self.lookups.take(merchant.id)  # before the payer is looked up
            consumer = self._payer(payer)
            if consumer.currency != row["currency"]:
                raise InvalidRequest("that wallet holds another currency", field="payer")
            row["consumer_id"] = consumer.id
        if existing is None:
            self._insert(row, merchant)  # nothing if the same number was asked for meanwhile
            existing = self._by_number(merchant.id, number)
        assert existing is not None  # inserted, by this request or the one it raced
        same = ("consumer_id", "purpose", "amount_max", "frequency", "start_on", "end_on")
        if any(getattr(existing, k) != row[k] for k in same):
            raise MandateNumberReused(
                "this mandate number was used for other terms", field="merchant_mandate_no"
            )
        return self.view_for_merchant(existing)

    def _by_number(self, merchant_id: str, number: str) -> Any:
        c = t.mandates.c
        with read(self.engine) as conn:
            return conn.execute(
                select(t.mandates).where(
                    c.merchant_id == merchant_id, c.merchant_mandate_no == number
                )
            ).first()

    def _insert(self, row: dict[str, Any], merchant: Merchant) -> None:
        def record(unit: Unit) -> None:
            # The same number asked for at the same moment: one row, one event.
            sql = insert_sql(t.mandates, list(row)) + _SAME_NUMBER_KEPT
            if unit.execute(sql, row).rowcount == 1:
                self.emit(unit, "mandate.created", row["id"], merchant)

        self.ctx.movements.record_alone(record)

    def emit(
        self, unit: Unit, event: str, mandate_id: str, merchant: Merchant, **extra: Any
    ) -> None:
        """The event, with the mandate as this transaction leaves it."""
        cursor = unit.execute("SELECT * FROM mandates WHERE id = :id", {"id": mandate_id})
        names = [d[0] for d in cursor.description]
        row = _Row(dict(zip(names, cursor.fetchone(), strict=True)))
        unit.emit(
            event,
            subject=mandate_id,
            data=views.summary(row) | extra,
            at_us=self.clock(),
            merchant_id=merchant.id,
            consumer_id=row.consumer_id,
            url=merchant.webhook_url,
        )

    # -- the payer decides --------------------------------------------------------------------

    def agree(self, consumer: Consumer, mandate_id: str, *, pin: str | None) -> dict[str, Any]:
        """The payer agrees, always with the PIN (the no-PIN allowance is for tills)."""
        row = self.of_consumer(consumer, mandate_id)
        if row.state != "requested":
            raise MandateNotRequested(f"this mandate is {row.state} already")
        if self.clock() >= row.ends_at_us:
            raise MandateEnded(f"the mandate ended on {row.end_on}")
        if pin is None:
            raise PinRequired("agree with your PIN", field="pin")
        agreement = "pin:" + self.ctx.wallets.verify_pin(consumer.id, pin)
        merchant = self.ctx.merchants.get(row.merchant_id)

        def record(unit: Unit) -> None:
            now = self.clock()
            agreed = unit.execute(
                "UPDATE mandates SET state = 'active', agreement = :a, agreed_at_us = :now,"
                " updated_at_us = :now WHERE id = :id AND consumer_id = :c"
                " AND state = 'requested'",
                {"a": agreement, "now": now, "id": row.id, "c": consumer.id},
            )
            if agreed.rowcount != 1:
                raise MandateNotRequested("this mandate was revoked meanwhile")
            self.emit(unit, "mandate.agreed", row.id, merchant)

        self.ctx.movements.record_alone(record)
        return self.view_for_consumer(self.of_consumer(consumer, mandate_id))

    def change(self, consumer: Consumer, mandate_id: str, action: str) -> dict[str, Any]:
        """Pause, resume or revoke, at once; asking again for the state it is in changes
        nothing. A revocation cannot be undone."""
        leaves, reaches, event = _MOVES[action]
        row = self.of_consumer(consumer, mandate_id)
        if row.state == reaches:
            return self.view_for_consumer(row)
        merchant = self.ctx.merchants.get(row.merchant_id)
        marks = (
            " revoked_at_us = :now, debits_at_revocation = debits," if action == "revoke" else ""
        )
        states = ", ".join(f"'{s}'" for s in leaves)

        def record(unit: Unit) -> None:
            changed = unit.execute(
                f"UPDATE mandates SET state = :to,{marks} updated_at_us = :now"  # nosec B608
                f" WHERE id = :id AND consumer_id = :c AND state IN ({states})",
                {"to": reaches, "now": self.clock(), "id": row.id, "c": consumer.id},
            )
            if changed.rowcount != 1:
                raise _cannot(action, self.of_consumer(consumer, mandate_id).state)
            self.emit(unit, event, row.id, merchant)

        if row.state not in leaves:
            raise _cannot(action, row.state)
        self.ctx.movements.record_alone(record)
        return self.view_for_consumer(self.of_consumer(consumer, mandate_id))

    def object(self, consumer: Consumer, mandate_id: str, notice_id: str) -> dict[str, Any]:
        """The payer objects to a notice: its debit will not be made."""
        row = self.of_consumer(consumer, mandate_id)
        notice = self.notice(notice_id)
        if notice is None or notice.mandate_id != row.id:
            raise not_found("notice", notice_id)
        merchant = self.ctx.merchants.get(row.merchant_id)

        def record(unit: Unit) -> None:
            objected = unit.execute(
                "UPDATE mandate_notices SET state = 'objected', objected_at_us = :now"
                " WHERE id = :id AND mandate_id = :m AND state = 'pending'",
                {"now": self.clock(), "id": notice_id, "m": row.id},
            )
            if objected.rowcount != 1:
                raise MandateNoticeUsed("a debit was made on this notice already")
            self.emit(unit, "mandate.notice_objected", row.id, merchant, notice_id=notice_id)

        if notice.state == "used":
            raise MandateNoticeUsed("a debit was made on this notice already")
        if notice.state == "pending":
            self.ctx.movements.record_alone(record)
        return self.view_for_consumer(self.of_consumer(consumer, mandate_id))

    # -- the merchant announces ---------------------------------------------------------------

    def announce(
        self, merchant: Merchant, mandate_id: str, *, amount: int, currency: str
    ) -> dict[str, Any]:
        """A pre-debit notice: the payer sees it at once; its debit may come 24 hours later."""
        row = self.of_merchant(merchant, mandate_id)
        amount = check_amount(amount)
        check_currency(currency, row.currency)
        now = self.clock()
        refused = _not_open(row, now)
        if refused is not None:
            raise refused
        if amount > row.amount_max:
            raise MandateAmountAboveMax(
                f"the payer allowed {row.amount_max} per debit at most", field="amount"
            )
        notice = {
            "id": new_id("mn"),
            "mandate_id": row.id,
            "amount": amount,
            "currency": row.currency,
            "state": "pending",
            "created_at_us": now,
            "due_at_us": now + rules.NOTICE_LEAD_US,
            "expires_at_us": now + rules.NOTICE_LEAD_US + rules.NOTICE_VALID_US,
        }

        def record(unit: Unit) -> None:
            # The mandate's row lock queues announcements on it (SQLite's writer holds the
            # whole database), so the count in the INSERT sees every notice sent before.
            if unit.tx.postgres:
                lock = "SELECT id FROM mandates WHERE id = :m FOR NO KEY UPDATE"
                unit.execute(lock, {"m": row.id})
            counted = {"m": row.id, "now": now, "most": NOTICES_PENDING_MAX}
            sent = unit.execute(_ANNOUNCE, notice | counted)
            if sent.rowcount != 1:
                raise InvalidRequest(
                    f"{NOTICES_PENDING_MAX} notices are waiting already", field="mandate_id"
                )

        self.ctx.movements.record_alone(record)
        return views.notice_view(_Row(notice | {"objected_at_us": None, "debit_id": None}))


_NOTICE_COLUMNS = "id, mandate_id, amount, currency, state, created_at_us, due_at_us, expires_at_us"
# A notice, unless NOTICES_PENDING_MAX of the mandate's are waiting already.
_ANNOUNCE = (
    f"INSERT INTO mandate_notices ({_NOTICE_COLUMNS})"
    f" SELECT {', '.join(':' + c for c in _NOTICE_COLUMNS.split(', '))}"
    " WHERE (SELECT COUNT(*) FROM mandate_notices WHERE mandate_id = :m"
    " AND state = 'pending' AND expires_at_us > :now) < :most"
)


def _not_open(row: Any, now: int) -> SaomaError | None:
    """Why no notice can be sent on this mandate now (None when one can)."""
    if row.state == "requested":
        return MandateNotAgreed("the payer has not agreed to this mandate yet")
    if row.state == "revoked":
        return MandateRevoked("the payer revoked this mandate")
    if row.state == "paused":
        return MandatePaused("the payer paused this mandate")
    if now >= row.ends_at_us:
        return MandateEnded(f"the mandate ended on {row.end_on}")
    return None


def _cannot(action: str, state: str) -> SaomaError:
    if state == "revoked":
        return MandateRevoked("this mandate was revoked: it cannot change any more")
    if state == "requested":
        return MandateNotAgreed("agree to this mandate first, or revoke it")
    return MandatePaused("this mandate is paused: resume it first")


class _Row:
    """A mapping read as attributes, like a SQLAlchemy row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:  # only for names the mapping lacks
        raise AttributeError(name)
