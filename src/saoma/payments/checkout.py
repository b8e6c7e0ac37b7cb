"""Checkout: a payer pays a merchant's order or static code, with the PIN.

A payment is one linked set of transfers (the payer's part, a campaign's part when an offer
applies, the merchant's fee on the full price) applied with the facts it makes (the order paid,
the payment row, the ``payment.succeeded`` event, the stored idempotent response) in one commit.
Its transfer id derives from what is paid (the order, or the static payment's Idempotency-Key),
so a retry, a takeover after a crash or a double click moves money at most once.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select

from saoma.core.errors import (
    CurrencyMismatch,
    InvalidRequest,
    OrderAlreadyPaid,
    OrderClosed,
    OrderExpired,
    OrderNotPayable,
    not_found,
)
from saoma.core.ids import new_id, now_us
from saoma.core.money import rate_of
from saoma.db import Bare, alone, is_sqlite
from saoma.ledger import Result, Transfer, TransferFlags
from saoma.merchants.service import Merchant, check_text, merchant_in, with_merchant
from saoma.movements import Refused, Unit
from saoma.payments import idempotency, views
from saoma.payments import tables as m
from saoma.payments.checks import authorise_later, check_amount
from saoma.payments.context import Context
from saoma.payments.queries import Queries
from saoma.payments.rows import derived_id, first, payment_row, payment_transfers
from saoma.wallets import tables as wallet_tables
from saoma.wallets.pins import PIN_PENDING_STALE_US, PinTry, claim_update
from saoma.wallets.service import Consumer, PinPass

# What makes a payment the same request as one made before under its Idempotency-Key (the
# ledger compares the accounts and the amount, not the note).
SAME_PAYMENT = ("consumer_id", "merchant_id", "order_id", "amount", "note")
PAID_SQL = (
    "UPDATE orders SET state = 'paid', payment_id = :pid, updated_at_us = :now"
    " WHERE id = :oid AND state = 'created' AND expires_at_us > :now"
)


log = logging.getLogger(__name__)


@cache
def _order_claiming_pin() -> Bare:
    """PostgreSQL: an order read with its merchant and, if it can be paid at ``now`` in the
    payer's currency, one of the payer's PIN tries claimed (the claim's own rule, and this
    besides), in one statement that commits on its own: two round trips before. A try is
    claimed only for an order the checks after it let through, so a refused order spends
    none, as when the order was read first."""
    o = m.orders.c
    payable = (
        select(o.id)
        .where(
            o.id == bindparam("row_id"),
            o.state == "created",
            o.expires_at_us > bindparam("now"),
            o.currency == bindparam("currency"),
        )
        .exists()
    )
    claimed = claim_update(wallet_tables.consumers, "payer_id").where(payable).cte("pin_claimed")
    return Bare(
        with_merchant(m.orders).statement.add_columns(
            select(claimed.c.pin_hash).scalar_subquery().label("pin_claimed_hash"),
            select(claimed.c.pin_failures).scalar_subquery().label("pin_claimed_failures"),
        )
    )


class Checkout:
    def __init__(self, ctx: Context, queries: Queries) -> None:
        self.ctx = ctx
        self.queries = queries

    def pay_order(
        self,
        consumer: Consumer,
        order_id: str,
        *,
        pin: str | None,
        offer_id: str | None = None,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        now = now_us()
        found, claimed = self._order(consumer, order_id, now, pin if offer_id is None else None)
        if found is None:
            raise not_found("order", order_id)
        row, merchant = found
        # With a try ``claimed``, the order was payable at ``now``: none of these refuses it.
        state = views.order_state(row, now)
        if state == "paid":
            mine = first(self.ctx.engine, m.payments, order_id=order_id)
            if mine is not None and mine.consumer_id == consumer.id:
                return self.queries.payment_view(mine, for_merchant=False)
            raise OrderAlreadyPaid("this order has already been paid")
        if state == "closed":
            raise OrderClosed("the merchant closed this order")
        if state == "expired":
            raise OrderExpired("this order has expired: ask for a new code")
        if row.currency != consumer.currency:
            raise CurrencyMismatch("the order is in another currency")
        offer = self._offer(consumer, offer_id, merchant.id, row.amount, row.id)
        authorisation, pin_pass = authorise_later(self.ctx.wallets, consumer, pin, claimed)
        try:
            return self._settle(
                consumer,
                merchant,
                amount=row.amount,
                kind="order",
                order=row,
                note=row.description,
                authorisation=authorisation,
                transfer_id=derived_id("ord", row.id),
                claim=claim,
                offer=offer,
                pin_pass=pin_pass,
            )
        finally:
            self._pin_passed(pin_pass)

    def _order(
        self, consumer: Consumer, order_id: str, now: int, pin: str | None
    ) -> tuple[tuple[Any, Merchant] | None, PinTry | None]:
        """The order with its merchant; on PostgreSQL, with a PIN to check, one of the payer's
        PIN tries claimed by the same statement if the order is payable at ``now`` (as the
        checks that follow judge it), or None."""
        if pin is None or is_sqlite(self.ctx.engine):
            return self.ctx.merchants.row_with_merchant(m.orders, order_id), None
        params = {
            "row_id": order_id,
            "now": now,
            "currency": consumer.currency,
            "payer_id": consumer.id,
            "stale": now - PIN_PENDING_STALE_US,
        }
        with alone(self.ctx.engine, writes=True) as conn:
            row = _order_claiming_pin().first(conn, params)
        if row is None:
            return None, None
        claimed = None
        if row.pin_claimed_hash is not None:
            claimed = PinTry(row.pin_claimed_hash, row.pin_claimed_failures, now)
        return (row, merchant_in(row)), claimed

    def pay_static(
        self,
        consumer: Consumer,
        merchant_id: str,
        *,
        amount: int,
        pin: str | None,
        note: str = "",
        offer_id: str | None = None,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        amount = check_amount(amount)
        note = check_text("note", note, 128, required=False)
        merchant = self.ctx.merchants.get(merchant_id)
        if merchant.currency != consumer.currency:
            raise CurrencyMismatch("this merchant is paid in another currency")
        offer = self._offer(consumer, offer_id, merchant.id, amount, f"static:{amount}")
        authorisation, pin_pass = authorise_later(self.ctx.wallets, consumer, pin)
        # A retry with the same Idempotency-Key maps to the same transfer id.
        seed = claim.seed if claim else new_id("p")
        try:
            return self._settle(
                consumer,
                merchant,
                amount=amount,
                kind="static",
                order=None,
                note=note,
                authorisation=authorisation,
                transfer_id=derived_id("pay", seed),
                claim=claim,
                offer=offer,
                pin_pass=pin_pass,
            )
        finally:
            self._pin_passed(pin_pass)

    def _pin_passed(self, pin_pass: PinPass | None) -> None:
        """The PIN's try given back on its own if the payment did not commit it: a refusal, an
        error. Failing here leaves the try pending until it is forgotten (seconds), so that
        is only logged, and the payment's own answer stands."""
        if pin_pass is None:
            return
        try:
            self.ctx.wallets.pin_passed(pin_pass)
        except Exception:
            log.warning("could not give a right PIN's try back", exc_info=True)

    def _offer(
        self, consumer: Consumer, offer_id: str | None, merchant_id: str, amount: int, subject: str
    ) -> Any:
        if offer_id is None:
            return None
        if self.ctx.promotions is None:
            raise InvalidRequest("promotions are not running here", field="offer_id")
        return self.ctx.promotions.take(consumer, offer_id, merchant_id, amount, subject)

    def _transfers(
        self, consumer: Consumer, merchant: Merchant, row: dict[str, Any], ref: str, offer: Any
    ) -> list[Transfer]:
        """Payer's part, the campaign's part, then the fee on the full price: all or nothing."""
        transfer_id = row["transfer_id"]
        transfers = payment_transfers(
            transfer_id,
            consumer.account_id,
            merchant.account_id,
            self.ctx.fees_account,
            row["amount"] - row["subsidy"],
            row["fee"],
            ref,
        )
        if offer is None:
            return transfers
        assert self.ctx.promotions is not None
        head = replace(transfers[0], flags=transfers[0].flags | TransferFlags.LINKED)
        sub = self.ctx.promotions.subsidy_transfer(offer, transfer_id, merchant.account_id, ref)
        if row["fee"]:
            sub = replace(sub, flags=TransferFlags.LINKED)
        return [head, sub, *transfers[1:]]

    def _settle(
        self,
        consumer: Consumer,
        merchant: Merchant,
        *,
        amount: int,
        kind: str,
        order: Any,
        note: str,
        authorisation: str,
        transfer_id: str,
        claim: idempotency.Claim | None,
        offer: Any = None,
        pin_pass: PinPass | None = None,
    ) -> dict[str, Any]:
        now = now_us()
        row = payment_row(
            kind=kind,
            merchant_id=merchant.id,
            consumer_id=consumer.id,
            amount=amount,
            fee=rate_of(amount, merchant.fee_ppm),
            currency=consumer.currency,
            note=note,
            authorisation=authorisation,
            transfer_id=transfer_id,
            now=now,
            order_id=order.id if order is not None else None,
            subsidy=offer.discount if offer is not None else 0,
            campaign_id=offer.campaign_id if offer is not None else None,
        )
        transfers = self._transfers(consumer, merchant, row, row["order_id"] or transfer_id, offer)
        view = views.payment(row, merchant, for_merchant=False)
        promotions = self.ctx.promotions

        def record(unit: Unit) -> None:
            # What looks at a result first; the writes that need no look go on together after.
            if self.ctx.admit is not None:  # the merchant's limit before approval
                self.ctx.admit(unit.tx, merchant.id, amount)
            if offer is not None:
                assert promotions is not None  # an offer comes from the promotions
                promotions.record_use(unit, offer, consumer, now)
            if order is not None:
                paid = {"pid": row["id"], "now": now, "oid": order.id}
                unit.tx.write_or_refuse(
                    PAID_SQL, paid, lambda: OrderNotPayable("the order was closed or expired")
                )
            if pin_pass is not None:  # the right PIN's try given back in the same commit
                self.ctx.wallets.pin_passed_in(unit.tx, pin_pass)
                unit.after(pin_pass.committed)
            unit.insert(m.payments, row)
            data = views.payment(row, merchant, for_merchant=True, payer=consumer.display_name)
            if order is not None:
                data["merchant_order_no"] = order.merchant_order_no
            unit.emit(
                "payment.succeeded",
                subject=order.id if order is not None else row["id"],
                data=data,
                at_us=now,
                merchant_id=merchant.id,
                consumer_id=consumer.id,
                url=(order.notify_url if order is not None else "") or merchant.webhook_url,
            )
            idempotency.finish_in(unit, claim, 201, view)

        moved = self.ctx.movements.move(transfers, record)
        if isinstance(moved, Refused):
            return self._not_moved(moved, row, order, offer)
        return view

    def _not_moved(
        self, refused: Refused, row: dict[str, Any], order: Any, offer: Any
    ) -> dict[str, Any]:
        """The payment made already (a retry), or why the ledger refused it."""
        results = refused.results
        if results[0] is Result.EXISTS:  # the same payment, already made
            existing = first(self.ctx.engine, m.payments, transfer_id=row["transfer_id"])
            if existing is not None:
                idempotency.same_request(existing, row, SAME_PAYMENT)  # not only its sum
                return self.queries.payment_view(existing, for_merchant=False)
        if order is not None and results[0] is Result.EXISTS_WITH_DIFFERENT_FIELDS:
            raise OrderAlreadyPaid("this order has already been paid")
        if results[0] is Result.EXISTS_WITH_DIFFERENT_FIELDS:  # its id is the key's
            raise idempotency.reused()
        if offer is not None and results[1] not in (Result.OK, Result.LINKED_EVENT_FAILED):
            assert self.ctx.promotions is not None
            raise self.ctx.promotions.unavailable()  # the budget ran out since the preview
        raise refused.problem()
