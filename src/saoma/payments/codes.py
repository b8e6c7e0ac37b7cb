"""The codes a merchant shows, and what a scanned code asks the payer for.

A merchant's static code and each order's dynamic code are EMVCo Merchant-Presented Mode payloads
(see :mod:`saoma.qr`) whose merchant account information template carries Saoma's globally unique
identifier, the merchant id and, for an order or a hold, its reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import segno

from saoma.core.errors import CodeUnreadable, NotFound, SelfTransfer
from saoma.qr.saoma import read_saoma_payload, saoma_payload

if TYPE_CHECKING:
    from saoma.bootstrap import Platform
    from saoma.merchants.service import Merchant
    from saoma.wallets.service import Consumer

HOLD_PREFIX = "hold:"


def _emv(merchant: Merchant, *, reference: str | None, amount: int | None, currency: str) -> str:
    return saoma_payload(
        merchant_id=merchant.id,
        reference=reference,
        amount_minor=amount,
        currency=currency,
        merchant_name=merchant.name,
        merchant_name_zh=merchant.name_zh,
        city=merchant.city,
        category_code=merchant.category_code,
    )


def personal_payload(consumer: Consumer) -> str:
    """A consumer's own static code: friends scan it to send money (EMVCo, no amount)."""
    name = consumer.display_name if consumer.display_name.isascii() else ""
    return saoma_payload(
        merchant_id=consumer.id,
        reference=None,
        amount_minor=None,
        currency=consumer.currency,
        merchant_name=(name or "Saoma wallet")[:25],
        merchant_name_zh="" if name else consumer.display_name[:25],
        city="CN",
        category_code="4829",  # money transfer
    )


def static_payload(merchant: Merchant) -> str:
    return _emv(merchant, reference=None, amount=None, currency=merchant.currency)


def order_payload(merchant: Merchant, order: Any) -> str:
    return _emv(merchant, reference=order.id, amount=order.amount, currency=order.currency)


def hold_payload(merchant: Merchant, hold: Any) -> str:
    return _emv(
        merchant, reference=HOLD_PREFIX + hold.id, amount=hold.amount, currency=hold.currency
    )


def svg(payload: str) -> bytes:
    qr = segno.make(payload, error="m", micro=False)
    return qr.svg_inline(scale=6, border=4).encode()


def preview(
    platform: Platform, consumer: Consumer, payload: str, amount: int | None = None
) -> dict[str, Any]:
    """What the payer sees after the scan, before confirming: who, how much, until when, and
    the discount that applies (``offer``), if any, with the price it leaves to pay."""
    try:
        merchant_id, reference = read_saoma_payload(payload)
    except ValueError as exc:
        raise CodeUnreadable(str(exc), field="payload") from exc
    if merchant_id.startswith("c_"):  # a person's code
        friend = platform.wallets.get(merchant_id)
        if friend.id == consumer.id:
            raise SelfTransfer("this is your own code", field="payload")
        return {
            "kind": "person",
            "person": {"id": friend.id, "display_name": friend.display_name},
            "currency": friend.currency,
            "amount": None,
            "pay_url": "/v1/transfers",
        }
    merchant = platform.merchants.get(merchant_id)
    payments = platform.payments
    base: dict[str, Any] = {"merchant": merchant.public(), "currency": merchant.currency}
    if reference is None:
        static: dict[str, Any] = base | {
            "kind": "static",
            "amount": amount,
            "pay_url": f"/v1/merchants/{merchant.id}/pay",
        }
        if amount is not None:
            from saoma.payments.service import check_amount

            static["offer"] = platform.promotions.quote(
                consumer, merchant.id, check_amount(amount), f"static:{amount}"
            )
        return static
    if reference.startswith(HOLD_PREFIX):
        hold_id = reference.removeprefix(HOLD_PREFIX)
        row = payments._hold_row(hold_id)
        if row is None or row.merchant_id != merchant.id:
            raise NotFound.named("hold", hold_id)
        return base | {
            "kind": "hold",
            "hold_id": row.id,
            "amount": row.amount,
            "description": row.description,
            "state": payments.hold_state(row),
            "expires_at": payments.hold_view(row, merchant)["expires_at"],
            "consent_url": f"/v1/holds/{row.id}/consent",
        }
    order = payments._order_row(reference)
    if order is None or order.merchant_id != merchant.id:
        raise NotFound.named("order", reference)
    view = payments.order_view(order, merchant)
    offer = None
    if view["state"] == "created":
        offer = platform.promotions.quote(consumer, merchant.id, order.amount, order.id)
    return base | {
        "offer": offer,
        "kind": "order",
        "order_id": order.id,
        "amount": order.amount,
        "description": order.description,
        "state": view["state"],
        "expires_at": view["expires_at"],
        "pay_url": f"/v1/orders/{order.id}/pay",
    }
