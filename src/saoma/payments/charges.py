"""Payment-code charges: the merchant's terminal scans the payer's one-time code.

Under the payer's no-PIN limit the charge settles at once; above it the charge waits (up to a
minute) for the payer to confirm it on the phone with the PIN, or to refuse it. The till's order
number is the charge's key: sent again with the same code and amount it replays the charge.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import (
    ChargeExpired,
    DatabaseUnavailable,
    NotRecorded,
    OrderNumberReused,
    Refusal,
    RequestInProgress,
    not_found,
)
from saoma.core.ids import new_id, now_us
from saoma.core.money import rate_of
from saoma.db import Bare, alone, write
from saoma.ledger import Result
from saoma.merchants.service import Merchant, check_text
from saoma.movements import Refused, Unit
from saoma.paycode.service import Resolved
from saoma.payments import idempotency, views
from saoma.payments import tables as m
from saoma.payments.checks import authorise, check_amount, check_currency, check_merchant_ref
from saoma.payments.context import Context
from saoma.payments.queries import Queries
from saoma.payments.rows import code_hash, derived_id, first, payment_row, payment_transfers
from saoma.wallets.service import Consumer, OverNoPinLimit

CHARGE_WAIT_US = 60 * 1_000_000  # a terminal waits a minute for the payer's PIN
# The statements every charge runs, built once and run on the driver (``saoma.db.Bare``).
INSERT_CHARGE = Bare(insert(m.charges).values({c.name: bindparam(c.name) for c in m.charges.c}))
BY_NO = Bare(
    select(m.charges).where(
        m.charges.c.merchant_id == bindparam("merchant_id"),
        m.charges.c.merchant_order_no == bindparam("no"),
    )
)
# A charge settled at once (under the no-PIN limit) is written with its payment, in the batch:
# no row waits for the payer first. Its order number taken meanwhile writes nothing.
INSERT_SETTLED_SQL = (
    "INSERT INTO charges (id, merchant_id, consumer_id, merchant_order_no, amount, currency,"
    " state, payment_id, expires_at_us, created_at_us, code_hash) VALUES (:id, :merchant_id,"
    " :consumer_id, :merchant_order_no, :amount, :currency, 'succeeded', :payment_id,"
    " :expires_at_us, :created_at_us, :code_hash) ON CONFLICT DO NOTHING"
)
SUCCEEDED_SQL = (
    "UPDATE charges SET state = 'succeeded', payment_id = :pid"
    " WHERE id = :id AND state = 'waiting_for_payer' AND expires_at_us > :now"
)


# What a charge's view shows of its row besides its state and payment (``views.charge``).
_VIEWED = ("id", "merchant_order_no", "amount", "currency", "expires_at_us")


# A movement whose outcome is not known here: a retry with its Idempotency-Key learns it (or
# the key another request took over answers it).
_UNKNOWN = (NotRecorded, DatabaseUnavailable, RequestInProgress)


class _NumberTaken(Refusal):
    """A charge settled at once found its order number taken by another charge meanwhile."""


def _settled_view(row: Any, payment_id: str, merchant: Merchant) -> dict[str, Any]:
    """The view of charge ``row`` once settled by payment ``payment_id``, without reading it."""
    settled = {k: getattr(row, k) for k in _VIEWED} | {"state": "succeeded"}
    return views.charge(SimpleNamespace(**settled, payment_id=payment_id), merchant)


def _settled(unit: Unit, charge_id: str, payment_id: str, now: int, new: Any) -> None:
    """The charge marked paid by ``payment_id`` in ``unit``; or written so, when ``new`` (its
    row, not written yet)."""
    if new is not None:
        unit.tx.write_or_refuse(INSERT_SETTLED_SQL, new | {"payment_id": payment_id}, _NumberTaken)
        return
    paid = {"pid": payment_id, "id": charge_id, "now": now}
    unit.tx.write_or_refuse(
        SUCCEEDED_SQL, paid, lambda: ChargeExpired("the cashier stopped waiting: pay again")
    )


class Charges:
    def __init__(self, ctx: Context, queries: Queries) -> None:
        self.ctx = ctx
        self.engine = ctx.engine
        self.queries = queries

    def _row(self, charge_id: str) -> Any:
        return first(self.engine, m.charges, id=charge_id)

    def _by_no(self, merchant_id: str, merchant_order_no: str) -> Any:
        with alone(self.engine, writes=False) as conn:
            return BY_NO.first(conn, {"merchant_id": merchant_id, "no": merchant_order_no})

    def create_charge(
        self,
        merchant: Merchant,
        *,
        code: str,
        amount: int,
        currency: str,
        merchant_order_no: str,
        terminal_id: str,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        """Charge a consumer's one-time code: under their no-PIN limit it settles at once;
        above it the charge waits (up to a minute) for the payer to confirm with the PIN."""
        amount = check_amount(amount)
        currency = check_currency(currency, merchant.currency)
        merchant_order_no = check_merchant_ref(merchant_order_no, "merchant_order_no")
        terminal_id = check_text("terminal_id", terminal_id, 64)
        existing = self._by_no(merchant.id, merchant_order_no)
        if existing is not None:
            return self._same_charge(existing, code_hash(code), amount)
        assert self.ctx.paycodes is not None
        resolved = self.ctx.paycodes.resolve(
            code, f"{merchant.id}/{terminal_id}", used_for=f"{merchant.id}/{merchant_order_no}"
        )
        consumer, no_pin = self._payer(resolved, amount)
        now = now_us()
        charge_id = new_id("ch")
        row = {
            "id": charge_id,
            "merchant_id": merchant.id,
            "consumer_id": consumer.id,
            "merchant_order_no": merchant_order_no,
            "amount": amount,
            "currency": currency,
            "state": "waiting_for_payer",
            "payment_id": None,
            "expires_at_us": now + CHARGE_WAIT_US,
            "created_at_us": now,
            "code_hash": code_hash(code),
        }
        if no_pin:
            try:
                # The charge written with its payment; its merchant as authenticated.
                return self._settle_charge(
                    charge_id,
                    consumer,
                    f"no_pin_limit:{resolved.handle}",
                    merchant=merchant,
                    claim=claim,
                    new=row,
                )
            except (OverNoPinLimit, _NumberTaken):
                # The allowance went to another debit meanwhile: wait for the PIN instead; or
                # another charge took the number meanwhile: it is answered below.
                pass
        taken = self._insert(row)
        if taken is not None:
            return self._same_charge(taken, code_hash(code), amount)
        data = {
            "id": charge_id,
            "merchant": merchant.public(),
            "amount": amount,
            "currency": currency,
        }
        self.ctx.movements.record_alone(  # the payer's phone is told: an event, no money
            lambda unit: unit.emit(
                "charge.waiting", subject=charge_id, data=data, at_us=now, consumer_id=consumer.id
            )
        )
        return self.queries.charge_view(self._row(charge_id))

    def _payer(self, resolved: Resolved, amount: int) -> tuple[Consumer, bool]:
        """The code's payer, and whether ``amount`` looks payable without the PIN."""
        if resolved.payer is not None:  # read with the code's claim
            return self.ctx.wallets.no_pin_look(resolved.payer, amount)
        return self.ctx.wallets.get_with_no_pin_look(resolved.wallet_id, amount)

    def _insert(self, row: dict[str, Any]) -> Any:
        """Insert the charge ``row``; or the charge that took its order number a moment ago
        (another request's), returned instead."""
        try:
            with alone(self.engine, writes=True) as conn:
                INSERT_CHARGE.run(conn, row)
        except IntegrityError:
            taken = self._by_no(row["merchant_id"], row["merchant_order_no"])
            if taken is None:  # another key refused the row: not a number taken
                raise
            return taken
        return None

    def _same_charge(self, existing: Any, hashed: str, amount: int) -> dict[str, Any]:
        """A till's order number sent again: the same code (``hashed``) and amount is a retry,
        anything else is another charge under a number already used."""
        same_code = existing.code_hash is None or existing.code_hash == hashed
        if same_code and existing.amount == amount:
            return self.queries.charge_view(existing)
        raise OrderNumberReused(
            f"order number {existing.merchant_order_no!r} was used for another charge",
            field="merchant_order_no",
        )

    def answer_charge(
        self, consumer: Consumer, charge_id: str, *, accept: bool, pin: str | None
    ) -> dict[str, Any]:
        """The payer confirms a waiting charge with the PIN, or refuses it."""
        row = self._row(charge_id)
        if row is None or row.consumer_id != consumer.id:
            raise not_found("charge", charge_id)
        state = views.charge_state(row)
        if state != "waiting_for_payer":
            if state == "expired":
                raise ChargeExpired("the cashier stopped waiting: pay again")
            return self.queries.charge_view(row)
        if not accept:
            self._refused(charge_id)
            return self.queries.charge_view(self._row(charge_id))
        authorisation = authorise(self.ctx.wallets, consumer, pin)
        return self._settle_charge(charge_id, consumer, authorisation)

    def _written_refused(self, new: dict[str, Any], problem: BaseException) -> dict[str, Any]:
        """A charge refused before it was written (``new``, its row): written refused, so the
        till's retry of its number hears the same; ``problem`` raised. Its number taken by
        another charge meanwhile: the answer to that number instead."""
        taken = self._insert(new | {"state": "refused"})
        if taken is not None:
            return self._same_charge(taken, new["code_hash"], new["amount"])
        raise problem

    def _refused(self, charge_id: str) -> None:
        with write(self.engine) as conn:
            conn.execute(
                update(m.charges)
                .where(m.charges.c.id == charge_id, m.charges.c.state == "waiting_for_payer")
                .values(state="refused")
            )

    def _settle_charge(
        self,
        charge_id: str,
        consumer: Consumer,
        authorisation: str,
        *,
        merchant: Merchant | None = None,
        claim: idempotency.Claim | None = None,
        new: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Settle the charge; its view as settled, stored as ``claim``'s response in the same
        commit (neither read nor stored again after it). ``new``: the charge's row, not yet
        written, written with the payment (``_NumberTaken`` if its number was taken)."""
        row = SimpleNamespace(**new) if new is not None else self._row(charge_id)
        merchant = merchant if merchant is not None else self.ctx.merchants.get(row.merchant_id)
        now = now_us()
        payment = payment_row(
            kind="paycode",
            merchant_id=merchant.id,
            consumer_id=consumer.id,
            amount=row.amount,
            fee=rate_of(row.amount, merchant.fee_ppm),
            currency=row.currency,
            note=row.merchant_order_no,
            authorisation=authorisation,
            transfer_id=derived_id("chg", charge_id),
            now=now,
        )
        transfers = payment_transfers(
            payment["transfer_id"],
            consumer.account_id,
            merchant.account_id,
            self.ctx.fees_account,
            row.amount,
            payment["fee"],
            charge_id,
        )
        view = _settled_view(row, payment["id"], merchant)

        def record(unit: Unit) -> None:
            paid = payment
            if self.ctx.admit is not None:  # the merchant's limit before approval
                self.ctx.admit(unit.tx, merchant.id, row.amount)
            if authorisation.startswith("no_pin"):  # the allowance, with the money or not at all
                at = self.ctx.wallets.reserve_no_pin(unit.tx, consumer.id, row.amount)
                paid = payment | {"created_at_us": at}
            _settled(unit, charge_id, paid["id"], now, new)
            unit.insert(m.payments, paid)
            unit.emit(
                "payment.succeeded",
                subject=charge_id,
                data=views.payment(paid, merchant, for_merchant=True, payer=consumer.display_name)
                | {"charge_id": charge_id, "merchant_order_no": row.merchant_order_no},
                at_us=now,
                merchant_id=merchant.id,
                consumer_id=consumer.id,
                url=merchant.webhook_url,
            )
            idempotency.finish_in(unit, claim, 201, view)

        try:
            moved = self.ctx.movements.move(transfers, record)
        except Refusal as refused:  # by a hook: a freeze, the merchant's limit, …
            if new is None or isinstance(refused, (OverNoPinLimit, _NumberTaken, *_UNKNOWN)):
                raise  # the caller's to answer; or an outcome not known, never written refused
            return self._written_refused(new, refused)
        return self._answered(moved, charge_id, new, view)

    def _answered(
        self, moved: Any, charge_id: str, new: dict[str, Any] | None, view: dict[str, Any]
    ) -> dict[str, Any]:
        """The settled charge's ``view`` once ``moved``; or what the ledger's refusal means."""
        if not isinstance(moved, Refused):
            return view
        if moved.results[0] is Result.EXISTS:  # settled before: as it stands
            return self.queries.charge_view(self._row(charge_id))
        if new is not None:  # refused by the ledger: the charge failed
            return self._written_refused(new, moved.problem())
        self._refused(charge_id)
        raise moved.problem()
