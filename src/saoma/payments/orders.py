"""Dynamic orders: a merchant creates an order for an amount, shows its code, and may close it.

The order's number is the merchant's: the same number with the same details replays the order
instead of making a second one, so a till that lost the answer can simply ask again.
Paying an order is :mod:`saoma.payments.checkout`'s.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import OrderNumberReused, OrderPaid, not_found
from saoma.core.ids import new_id, now_us
from saoma.db import is_sqlite, write, write_one
from saoma.merchants.service import Merchant, check_text, check_webhook_url
from saoma.payments import idempotency, views
from saoma.payments import tables as m
from saoma.payments.checks import check_amount, check_currency, check_merchant_ref, check_seconds
from saoma.payments.context import Context
from saoma.payments.queries import Queries
from saoma.payments.rows import first

ORDER_TTL_S_DEFAULT = 15 * 60
ORDER_TTL_S_MIN = 5
ORDER_TTL_S_MAX = 24 * 3600
INSERT_ORDER = m.orders.insert()  # built once; the row's values are bound per call
_ORDER_COLUMNS = (
    "id", "merchant_id", "merchant_order_no", "amount", "currency", "description", "state",
    "expires_at_us", "notify_url", "created_at_us", "updated_at_us",
)  # fmt: skip
# PostgreSQL: the order written with the request's stored response (idempotency.finish_with).
INSERT_ORDER_SQL = (
    f"INSERT INTO orders ({', '.join(_ORDER_COLUMNS)})"
    f" VALUES ({', '.join(f'%({name})s' for name in _ORDER_COLUMNS)})"
)


class Orders:
    def __init__(self, ctx: Context, queries: Queries) -> None:
        self.engine = ctx.engine
        self.queries = queries

    def create_order(
        self,
        merchant: Merchant,
        *,
        merchant_order_no: str,
        amount: int,
        currency: str,
        description: str = "",
        expires_in_s: int = ORDER_TTL_S_DEFAULT,
        notify_url: str = "",
        claim: idempotency.Claim | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """The order and whether it is new; the same number with the same details replays.

        With the request's Idempotency-Key ``claim``, on PostgreSQL, a new order and the response
        (201 and the order) are stored in one statement; the claim is then marked stored."""
        merchant_order_no = check_merchant_ref(merchant_order_no, "merchant_order_no")
        amount = check_amount(amount)
        currency = check_currency(currency, merchant.currency)
        description = check_text("description", description, 128, required=False)
        expires_in_s = check_seconds(expires_in_s, "expires_in_s", ORDER_TTL_S_MIN, ORDER_TTL_S_MAX)
        notify_url = check_webhook_url(notify_url, "notify_url")
        now = now_us()
        row = {
            "id": new_id("ord"),
            "merchant_id": merchant.id,
            "merchant_order_no": merchant_order_no,
            "amount": amount,
            "currency": currency,
            "description": description,
            "state": "created",
            "expires_at_us": now + expires_in_s * 1_000_000,
            "notify_url": notify_url,
            "created_at_us": now,
            "updated_at_us": now,
        }
        # The view of the row as written: reading it back would only repeat it.
        made = views.order(SimpleNamespace(payment_id=None, **row), merchant)
        try:
            if claim is not None and not is_sqlite(self.engine):
                idempotency.finish_with(self.engine, claim, 201, made, INSERT_ORDER_SQL, row)
            else:
                with write_one(self.engine) as conn:
                    conn.execute(INSERT_ORDER, row)
        except IntegrityError:
            existing = first(
                self.engine, m.orders, merchant_id=merchant.id, merchant_order_no=merchant_order_no
            )
            if existing is None:  # pragma: no cover - the conflicting row vanished
                raise
        else:
            return made, True
        return self._same_order(existing, merchant, row), False

    @staticmethod
    def _same_order(existing: Any, merchant: Merchant, wanted: dict[str, Any]) -> dict[str, Any]:
        """The order already made under this number, if it has the details asked for again."""
        number = wanted["merchant_order_no"]
        details = (existing.amount, existing.currency, existing.description)
        if details != (wanted["amount"], wanted["currency"], wanted["description"]):
            raise OrderNumberReused(
                f"order number {number!r} already exists with other details",
                field="merchant_order_no",
            )
        return views.order(existing, merchant)

    def close_order(self, merchant: Merchant, order_id: str) -> dict[str, Any]:
        """Close an order nobody paid: its code no longer pays. Closing it again is a no-op."""
        row = first(self.engine, m.orders, id=order_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("order", order_id)
        state = views.order_state(row)
        if state in ("closed", "expired"):
            return views.order(row, merchant)
        if state == "paid":
            raise OrderPaid("the order is paid: refund it instead of closing it")
        with write(self.engine) as conn:  # paid in the meantime: the order says so
            conn.execute(
                update(m.orders)
                .where(m.orders.c.id == order_id, m.orders.c.state == "created")
                .values(state="closed", updated_at_us=now_us())
            )
        return self.queries.get_order(merchant, order_id)
