"""Payments: orders, checkout, refunds, holds and payment-code charges, behind one facade.

Each feature is a class of its own module (:mod:`~saoma.payments.orders`,
:mod:`~saoma.payments.checkout`, :mod:`~saoma.payments.refunds`, :mod:`~saoma.payments.holds`,
:mod:`~saoma.payments.charges`, reads in :mod:`~saoma.payments.queries`); :class:`Payments`
composes them over one :class:`~saoma.payments.context.Context` and answers with their methods
under the names the routes, pages and other packages call.

Every money movement goes through :meth:`saoma.movements.Movements.move` with a ``record``
function that writes the business facts (order paid, payment row, refund row, outbox event, the
stored idempotent response) in the same database transaction, so money and facts commit
together or not at all; what happens outside it (waking the dispatcher and live pages) happens
once, after the commit. Transfer ids derive from the business object (an order can be paid once;
a refund number refunds once), so a retry, a takeover after a crash or a concurrent double click
moves money at most once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from saoma.ledger import Account, AccountKind, Ledger
from saoma.merchants.service import Merchants
from saoma.movements import Movements
from saoma.payments import tables as m
from saoma.payments import views
from saoma.payments.charges import CHARGE_WAIT_US, Charges
from saoma.payments.checkout import Checkout
from saoma.payments.checks import check_amount, check_currency, check_merchant_ref
from saoma.payments.context import Context
from saoma.payments.holds import HOLD_TTL_S_MAX, Holds
from saoma.payments.orders import (
    INSERT_ORDER,
    ORDER_TTL_S_DEFAULT,
    ORDER_TTL_S_MAX,
    ORDER_TTL_S_MIN,
    Orders,
)
from saoma.payments.queries import HOLD_STATES, PAYMENT_KINDS, Queries
from saoma.payments.refunds import (
    REFUND_LOCK_STRIPES,
    REFUND_RACE_MAX,
    Refunds,
    refund_share,
)
from saoma.payments.rows import code_hash, derived_id, first, system_account_id
from saoma.wallets.service import Wallets

if TYPE_CHECKING:
    from saoma.paycode.service import PaymentCodes
    from saoma.promotions.service import Promotions

__all__ = [
    "CHARGE_WAIT_US",
    "HOLD_STATES",
    "HOLD_TTL_S_MAX",
    "INSERT_ORDER",
    "ORDER_TTL_S_DEFAULT",
    "ORDER_TTL_S_MAX",
    "ORDER_TTL_S_MIN",
    "PAYMENT_KINDS",
    "REFUND_LOCK_STRIPES",
    "REFUND_RACE_MAX",
    "Payments",
    "check_amount",
    "check_currency",
    "check_merchant_ref",
    "code_hash",
    "derived_id",
    "refund_share",
    "system_account_id",
]


class Payments:
    def __init__(
        self,
        engine: Engine,
        ledger: Ledger,
        wallets: Wallets,
        merchants: Merchants,
        *,
        on_events: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.wallets = wallets
        self.merchants = merchants
        self.currency = wallets.currency
        self.fees_account = system_account_id(self.currency, AccountKind.PLATFORM_FEES)
        self.bank_account = system_account_id(self.currency, AccountKind.BANK_CLEARING)
        self.ctx = Context(
            engine,
            ledger,
            wallets,
            merchants,
            Movements(ledger, on_events=on_events),
            self.currency,
            self.fees_account,
            self.bank_account,
        )
        self.queries = queries = Queries(self.ctx)
        self.orders = Orders(self.ctx, queries)
        self.checkout = Checkout(self.ctx, queries)
        # A refund reads the payment through ``_payment``, looked up at each call, so that a
        # test can stage a stale read there (tests/chaos/test_concurrent_refunds.py).
        self.refunds = Refunds(self.ctx, queries, lambda payment_id: self._payment(payment_id))
        self.holds = Holds(self.ctx, queries)
        self.charges = Charges(self.ctx, queries)

        self.create_order = self.orders.create_order
        self.close_order = self.orders.close_order
        self.get_order = queries.get_order
        self.find_order = queries.find_order

        self.pay_order = self.checkout.pay_order
        self.pay_static = self.checkout.pay_static

        self.refund = self.refunds.refund
        self.refund_view = queries.refund_view
        self.merchant_refunds = queries.merchant_refunds
        self.refund_by_no = queries.refund_by_no
        self.refunds_of = queries.refunds_of

        self.payment_view = queries.payment_view
        self.payment_for_consumer = queries.payment_for_consumer
        self.payment_for_merchant = queries.payment_for_merchant
        self.list_payments = queries.list_payments

        self.create_hold = self.holds.create_hold
        self.consent_hold = self.holds.consent_hold
        self.capture_hold = self.holds.capture_hold
        self.void_hold = self.holds.void_hold
        self.expire_holds = self.holds.expire_holds
        self.get_hold = queries.get_hold
        self.holds_of = queries.holds_of
        self.merchant_holds = queries.merchant_holds

        self.create_charge = self.charges.create_charge
        self.answer_charge = self.charges.answer_charge
        self.charge_view = queries.charge_view
        self.get_charge = queries.get_charge
        self.waiting_charges = queries.waiting_charges

    # The features read these from the context at each call: set here, they take effect at once.

    @property
    def movements(self) -> Movements:
        return self.ctx.movements

    @movements.setter
    def movements(self, movements: Movements) -> None:
        self.ctx.movements = movements

    # Promotions and payment codes are built over this service, then wired in.

    @property
    def promotions(self) -> Promotions | None:
        return self.ctx.promotions

    @promotions.setter
    def promotions(self, promotions: Promotions | None) -> None:
        self.ctx.promotions = promotions

    @property
    def paycodes(self) -> PaymentCodes | None:
        return self.ctx.paycodes

    @paycodes.setter
    def paycodes(self, paycodes: PaymentCodes | None) -> None:
        self.ctx.paycodes = paycodes

    def ensure_system_accounts(self) -> None:
        self.ledger.create_accounts(
            [
                Account(self.fees_account, self.currency, AccountKind.PLATFORM_FEES),
                Account(self.bank_account, self.currency, AccountKind.BANK_CLEARING),
            ]
        )

    # --- one row, and what is shown of it ------------------------------------------------------

    def _payment(self, payment_id: str) -> Any:
        return first(self.engine, m.payments, id=payment_id)

    def _order_row(self, order_id: str) -> Any:
        return first(self.engine, m.orders, id=order_id)

    def _hold_row(self, preauth_id: str) -> Any:
        return first(self.engine, m.preauths, id=preauth_id)

    order_state = staticmethod(views.order_state)
    order_view = staticmethod(views.order)
    hold_state = staticmethod(views.hold_state)
    hold_view = staticmethod(views.hold)
    charge_state = staticmethod(views.charge_state)
