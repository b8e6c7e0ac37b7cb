"""Reading payments, refunds, orders, holds and charges: one object, or a page of them.

Every read answers only its owner: a payment another consumer made, or an order of another
merchant, is "not found", the same answer as for one that does not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from saoma.core.errors import InvalidRequest, not_found
from saoma.core.ids import now_us
from saoma.db import read
from saoma.merchants.service import Merchant
from saoma.pagination import (
    PAGE_LIMIT_MAX,
    check_limit,
    choice,
    newest_first,
    parse_cursor,
    parse_time_cursor,
    text_filter,
    time_page_of,
)
from saoma.payments import tables as m
from saoma.payments import views
from saoma.payments.context import Context
from saoma.payments.rows import first
from saoma.wallets import tables as wt
from saoma.wallets.service import Consumer

PAYMENT_KINDS = ("order", "static", "paycode", "capture", "mandate")
HOLD_STATES = ("requested", "held", "captured", "voided", "expired")
SEARCH_CHARS_MAX = 64


class Queries:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.engine = ctx.engine

    # --- payments and their refunds ----------------------------------------------------------

    def payment_view(
        self, row: Any, *, for_merchant: bool, names: dict[str, str] | None = None
    ) -> dict[str, Any]:
        merchant = self.ctx.merchants.get(row.merchant_id)
        payer = ""
        if for_merchant:
            if names is None:
                names = self.payer_names([row.consumer_id])
            payer = names.get(row.consumer_id, "")
        return views.payment(row._mapping, merchant, for_merchant=for_merchant, payer=payer)

    def payer_names(self, consumer_ids: list[str]) -> dict[str, str]:
        """The display names of these people, by id (what a merchant sees of payers, what a red
        packet's claimers see of each other)."""
        if not consumer_ids:
            return {}
        c = wt.consumers.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(c.id, c.display_name).where(c.id.in_(sorted(set(consumer_ids))))
            ).all()
        return {r.id: r.display_name for r in rows}

    def payment_for_consumer(self, consumer: Consumer, payment_id: str) -> dict[str, Any]:
        row = first(self.engine, m.payments, id=payment_id)
        if row is None or row.consumer_id != consumer.id:
            raise not_found("payment", payment_id)
        return self.payment_view(row, for_merchant=False) | {"refunds": self.refunds_of(row.id)}

    def payment_for_merchant(self, merchant: Merchant, payment_id: str) -> dict[str, Any]:
        row = first(self.engine, m.payments, id=payment_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("payment", payment_id)
        return self.payment_view(row, for_merchant=True) | {"refunds": self.refunds_of(row.id)}

    def list_payments(
        self,
        *,
        consumer: Consumer | None = None,
        merchant: Merchant | None = None,
        cursor: str | None = None,
        limit: int = 20,
        kind: str | None = None,
        search: str | None = None,
        amount: int | None = None,
        payer: str | None = None,
    ) -> dict[str, Any]:
        """A page of payments, newest first; ``next_cursor`` continues it.

        ``kind`` keeps one kind (order, static, paycode, capture); ``search`` matches the start
        of the payment id or order id, or any part of the note; ``amount`` keeps the payments of
        exactly that price (minor units); ``payer`` those whose payer's name ends with it, as
        the merchant sees it masked (``*敏`` or ``敏``).
        """
        limit = check_limit(limit)
        p = m.payments.c
        query = select(m.payments).order_by(p.seq.desc()).limit(limit + 1)
        if kind:
            if kind not in PAYMENT_KINDS:
                raise InvalidRequest(
                    f"kind must be one of {', '.join(PAYMENT_KINDS)}", field="kind"
                )
            query = query.where(p.kind == kind)
        if search:
            query = query.where(_matching(search))
        if amount is not None:
            query = query.where(p.amount == amount)
        if payer:
            query = query.where(_paid_by(payer))
        if consumer is not None:
            query = query.where(p.consumer_id == consumer.id)
        if merchant is not None:
            query = query.where(p.merchant_id == merchant.id)
        after = parse_cursor(cursor)
        if after is not None:
            query = query.where(p.seq < after)
        with read(self.engine) as conn:
            rows = conn.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        names = self.payer_names([r.consumer_id for r in rows]) if merchant is not None else {}
        return {
            "data": [
                self.payment_view(r, for_merchant=merchant is not None, names=names) for r in rows
            ],
            "next_cursor": str(rows[-1].seq) if more else None,
        }

    def refund_view(self, row: Any) -> dict[str, Any]:
        return views.refund(row._mapping)

    def merchant_refunds(
        self,
        merchant: Merchant,
        *,
        cursor: str | None = None,
        limit: int = 20,
        payment_id: str | None = None,
        merchant_refund_no: str | None = None,
    ) -> dict[str, Any]:
        """A page of the merchant's refunds, newest first, of one payment or one refund number."""
        limit = check_limit(limit)
        after = parse_time_cursor(cursor)
        r = m.refunds.c
        query = select(m.refunds).where(r.merchant_id == merchant.id)
        pid = text_filter(payment_id, "payment_id")
        if pid is not None:
            query = query.where(r.payment_id == pid)
        number = text_filter(merchant_refund_no, "merchant_refund_no")
        if number is not None:
            query = query.where(r.merchant_refund_no == number)
        query = newest_first(query, r.created_at_us, r.id, after, limit)
        with read(self.engine) as conn:
            rows, next_cursor = time_page_of(conn.execute(query).all(), limit)
        return {"data": [self.refund_view(row) for row in rows], "next_cursor": next_cursor}

    def refund_by_no(self, merchant: Merchant, merchant_refund_no: str) -> dict[str, Any]:
        """The refund the merchant sent with this number: the outcome of a request it lost."""
        number = text_filter(merchant_refund_no, "merchant_refund_no") or ""
        row = None
        if number:
            row = first(self.engine, m.refunds, merchant_id=merchant.id, merchant_refund_no=number)
        if row is None:
            raise not_found("refund", merchant_refund_no)
        return self.refund_view(row)

    def refunds_of(self, payment_id: str) -> list[dict[str, Any]]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(m.refunds)
                .where(m.refunds.c.payment_id == payment_id)
                .order_by(m.refunds.c.created_at_us)
            ).all()
        return [self.refund_view(r) for r in rows]

    # --- orders ------------------------------------------------------------------------------

    def get_order(self, merchant: Merchant, order_id: str) -> dict[str, Any]:
        row = first(self.engine, m.orders, id=order_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("order", order_id)
        return views.order(row, merchant)

    def find_order(self, merchant: Merchant, merchant_order_no: str) -> dict[str, Any]:
        row = first(
            self.engine, m.orders, merchant_id=merchant.id, merchant_order_no=merchant_order_no
        )
        if row is None:
            raise not_found("order", merchant_order_no)
        return views.order(row, merchant)

    # --- holds -------------------------------------------------------------------------------

    def get_hold(self, merchant: Merchant, preauth_id: str) -> dict[str, Any]:
        row = first(self.engine, m.preauths, id=preauth_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("hold", preauth_id)
        return views.hold(row, merchant)

    def holds_of(
        self,
        consumer: Consumer,
        *,
        cursor: str | None = None,
        limit: int = PAGE_LIMIT_MAX,
        state: str | None = None,
    ) -> dict[str, Any]:
        """A page of the holds the consumer consented to, newest first."""
        query = select(m.preauths).where(m.preauths.c.consumer_id == consumer.id)
        return self._hold_page(query, cursor, limit, state)

    def merchant_holds(
        self,
        merchant: Merchant,
        *,
        cursor: str | None = None,
        limit: int = 20,
        state: str | None = None,
        merchant_ref: str | None = None,
    ) -> dict[str, Any]:
        """A page of the merchant's holds, newest first; ``merchant_ref`` finds one by its ref."""
        query = select(m.preauths).where(m.preauths.c.merchant_id == merchant.id)
        ref = text_filter(merchant_ref, "merchant_ref")
        if ref is not None:
            query = query.where(m.preauths.c.merchant_ref == ref)
        return self._hold_page(query, cursor, limit, state)

    def _hold_page(
        self, query: Select[Any], cursor: str | None, limit: int, state: str | None
    ) -> dict[str, Any]:
        limit = check_limit(limit)
        after = parse_time_cursor(cursor)
        state = choice(state, "state", HOLD_STATES)
        if state is not None:
            query = query.where(_hold_in_state(state))
        query = newest_first(query, m.preauths.c.created_at_us, m.preauths.c.id, after, limit)
        with read(self.engine) as conn:
            rows, next_cursor = time_page_of(conn.execute(query).all(), limit)
        merchants: dict[str, Merchant] = {}
        data = []
        for r in rows:
            if r.merchant_id not in merchants:
                merchants[r.merchant_id] = self.ctx.merchants.get(r.merchant_id)
            data.append(views.hold(r, merchants[r.merchant_id]))
        return {"data": data, "next_cursor": next_cursor}

    # --- payment-code charges ----------------------------------------------------------------

    def charge_view(self, row: Any) -> dict[str, Any]:
        return views.charge(row, self.ctx.merchants.get(row.merchant_id))

    def get_charge(self, merchant: Merchant, charge_id: str) -> dict[str, Any]:
        row = first(self.engine, m.charges, id=charge_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("charge", charge_id)
        return self.charge_view(row)

    def waiting_charges(self, consumer: Consumer) -> list[dict[str, Any]]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(m.charges).where(
                    m.charges.c.consumer_id == consumer.id,
                    m.charges.c.state == "waiting_for_payer",
                    m.charges.c.expires_at_us > now_us(),
                )
            ).all()
        return [self.charge_view(r) for r in rows]


def _matching(search: str) -> Any:
    """Payments whose id or order id starts with ``search``, or whose note contains it."""
    if len(search) > SEARCH_CHARS_MAX:
        raise InvalidRequest(f"a search is {SEARCH_CHARS_MAX} characters at most", field="q")
    like = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    p = m.payments.c
    return (
        p.id.like(like + "%", escape="\\")
        | p.order_id.like(like + "%", escape="\\")
        | p.note.ilike("%" + like + "%", escape="\\")
    )


def _paid_by(payer: str) -> Any:
    """Payments by payers whose name ends with ``payer`` (a masked name's leading ``*`` aside):
    no more of a name than the mask a merchant sees of it is needed to find them."""
    ending = payer.strip().lstrip("*").strip()
    if not ending or len(ending) > SEARCH_CHARS_MAX:
        raise InvalidRequest(
            f"a payer is the end of their name, 1 to {SEARCH_CHARS_MAX} characters", field="payer"
        )
    like = ending.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    c = wt.consumers.c
    named = select(c.id).where(c.display_name.ilike("%" + like, escape="\\"))
    return m.payments.c.consumer_id.in_(named)


def _hold_in_state(state: str) -> Any:
    """The state a hold shows (see :func:`views.hold_state`): an open hold past its time expired."""
    h = m.preauths.c
    now = now_us()
    if state in ("requested", "held"):
        return (h.state == state) & (h.expires_at_us > now)
    if state == "expired":
        return (h.state == "expired") | (
            h.state.in_(("requested", "held")) & (h.expires_at_us <= now)
        )
    return h.state == state
