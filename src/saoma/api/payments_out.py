"""Success bodies of orders, payments, refunds, holds and payment-code charges.

Amounts are integers in the currency's minor unit; times are RFC 3339 in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from saoma.api.responses import Listing, Out, Page, example, sometimes

MERCHANT = {
    "id": "m_8f3a2c1d9e7b",
    "name": "Old Chen Noodles",
    "name_zh": "老陈面馆",
    "city": "Shenzhen",
    "category_code": "5814",
    "currency": "CNY",
}
ORDER = {
    "id": "ord_5b1e0c2f7a9d",
    "merchant_id": "m_8f3a2c1d9e7b",
    "merchant_order_no": "T20261124-0001",
    "amount": 2500,
    "currency": "CNY",
    "description": "Beef noodles",
    "state": "created",
    "payment_id": None,
    "created_at": "2026-11-24T04:12:05.120Z",
    "expires_at": "2026-11-24T04:27:05.120Z",
    "qr_payload": "00020101021226...6304A1B2",
    "qr_image_url": "/v1/orders/ord_5b1e0c2f7a9d/qr.svg",
}
_PAYMENT_BASE = {
    "id": "pay_0c4d5e6f7a8b",
    "kind": "order",
    "order_id": "ord_5b1e0c2f7a9d",
    "merchant": MERCHANT,
    "amount": 2500,
    "discount": 0,
    "paid": 2500,
    "currency": "CNY",
    "refunded": 0,
    "refunded_to_payer": 0,
    "note": "Beef noodles",
    "created_at": "2026-11-24T04:13:40.002Z",
}
PAYMENT = _PAYMENT_BASE | {"authorisation": "pin"}
MERCHANT_PAYMENT = _PAYMENT_BASE | {"fee": 15, "net": 2485, "payer": "*敏"}
REFUND = {
    "id": "rf_9a8b7c6d5e4f",
    "payment_id": "pay_0c4d5e6f7a8b",
    "merchant_refund_no": "R-0001",
    "amount": 500,
    "fee_returned": 3,
    "to_payer": 500,
    "to_campaign": 0,
    "reason": "cold noodles",
    "created_at": "2026-11-24T05:01:00.000Z",
}
HOLD = {
    "id": "ha_1f2e3d4c5b6a",
    "merchant_ref": "bike-ride-42",
    "merchant": MERCHANT,
    "description": "Bike deposit",
    "amount": 9900,
    "captured": 0,
    "currency": "CNY",
    "state": "held",
    "payment_id": None,
    "expires_at": "2026-11-25T04:00:00.000Z",
    "created_at": "2026-11-24T04:00:00.000Z",
    "qr_payload": "00020101021226...6304C3D4",
}
CHARGE = {
    "id": "ch_7e6d5c4b3a29",
    "merchant": MERCHANT,
    "merchant_order_no": "POS-2026-000123",
    "amount": 1800,
    "currency": "CNY",
    "state": "succeeded",
    "payment_id": "pay_3b4c5d6e7f80",
    "expires_at": "2026-11-24T04:14:40.000Z",
}
PaymentKind = Literal["order", "static", "paycode", "capture", "mandate"]
HoldState = Literal["requested", "held", "captured", "voided", "expired"]


class MerchantPublicOut(Out):
    """What anyone paying a merchant sees of it."""

    model_config = example(MERCHANT)

    id: str
    name: str
    name_zh: str
    city: str
    category_code: str = Field(description="ISO 18245 merchant category code.")
    currency: str


class OrderOut(Out):
    """A dynamic order: show `qr_payload` as a QR code; `state` becomes `paid` once paid."""

    model_config = example(ORDER)

    id: str
    merchant_id: str
    merchant_order_no: str
    amount: int
    currency: str
    description: str
    state: Literal["created", "paid", "closed", "expired"]
    payment_id: str | None
    created_at: datetime
    expires_at: datetime
    qr_payload: str = Field(description="The EMVCo payload to show as a QR code.")
    qr_image_url: str


class _PaymentBase(Out):
    id: str
    kind: PaymentKind
    order_id: str | None
    merchant: MerchantPublicOut
    amount: int = Field(description="The price, before any discount.")
    discount: int = Field(description="What a campaign paid of the price.")
    paid: int = Field(description="What the payer paid: amount - discount.")
    currency: str
    refunded: int = Field(description="The part of the price refunded.")
    refunded_to_payer: int = Field(
        description="What of `refunded` went back to the payer; a campaign that paid part of "
        "a discounted payment gets its share of each refund back."
    )
    note: str
    created_at: datetime


class PaymentOut(_PaymentBase):
    """A payment as its payer sees it."""

    model_config = example(PAYMENT)

    authorisation: str = Field(
        description="How the payer agreed: pin, no_pin_limit (a small payment-code charge) or "
        "hold (a captured hold)."
    )


class MerchantPaymentOut(_PaymentBase):
    """A payment as the merchant paid sees it: with its fee and net."""

    model_config = example(MERCHANT_PAYMENT)

    fee: int
    net: int = Field(description="amount - fee.")
    payer: str = Field(description="The payer's name, masked: `*敏`; empty if they gave none.")


class RefundOut(Out):
    """A refund: `to_payer` went back to the payer's wallet, `to_campaign` to the campaign."""

    model_config = example(REFUND)

    id: str
    payment_id: str
    merchant_refund_no: str
    amount: int
    fee_returned: int
    to_payer: int
    to_campaign: int
    reason: str
    created_at: datetime


class PaymentDetailOut(PaymentOut):
    """A payment and its refunds, as its payer sees it."""

    model_config = example(PAYMENT | {"refunds": [REFUND]})

    refunds: list[RefundOut]


class MerchantPaymentDetailOut(MerchantPaymentOut):
    """A payment and its refunds, as the merchant paid sees it."""

    model_config = example(MERCHANT_PAYMENT | {"refunds": [REFUND]})

    refunds: list[RefundOut]


class PaymentPage(Page[PaymentOut]):
    model_config = example({"data": [PAYMENT], "next_cursor": "1042"})


class MerchantPaymentPage(Page[MerchantPaymentOut]):
    model_config = example({"data": [MERCHANT_PAYMENT], "next_cursor": None})


class RefundPage(Page[RefundOut]):
    model_config = example({"data": [REFUND], "next_cursor": None})


class HoldOut(Out):
    """A pre-authorisation: `requested` until the payer consents, then `held` until captured,
    voided or expired."""

    model_config = example(HOLD)

    id: str
    merchant_ref: str
    merchant: MerchantPublicOut
    description: str
    amount: int
    captured: int
    currency: str
    state: HoldState
    payment_id: str | None
    expires_at: datetime
    created_at: datetime
    qr_payload: str = Field(description="The payer scans it to consent.")


class HoldPage(Page[HoldOut]):
    model_config = example({"data": [HOLD], "next_cursor": None})


class ChargeOut(Out):
    """A till's charge of a payer's one-time code."""

    model_config = example(CHARGE)

    id: str
    merchant: MerchantPublicOut
    merchant_order_no: str
    amount: int
    currency: str
    state: Literal["waiting_for_payer", "succeeded", "refused", "expired"]
    payment_id: str | None
    expires_at: datetime


class ChargeList(Listing[ChargeOut]):
    model_config = example({"data": [CHARGE | {"state": "waiting_for_payer", "payment_id": None}]})


class OfferOut(Out):
    """The best discount for this payment, held for five minutes: pay with its `offer_id`."""

    model_config = example(
        {
            "offer_id": "of.eyJuIjoi...",
            "campaign_id": "cmp_4d3c2b1a0f9e",
            "reason": "¥5 off",
            "coupon": False,
            "discount": 500,
            "pay_amount": 2000,
            "expires_at": "2026-11-24T04:17:05.120Z",
        }
    )

    offer_id: str
    campaign_id: str
    reason: str
    coupon: bool = Field(description="True: the payer's own collected coupon gives this discount.")
    discount: int
    pay_amount: int
    expires_at: datetime


class _Scanned(Out):
    merchant: MerchantPublicOut
    currency: str


_SCANNED = {"merchant": MERCHANT, "currency": "CNY"}


class OrderPreview(_Scanned):
    model_config = example(
        _SCANNED
        | {
            "kind": "order",
            "order_id": ORDER["id"],
            "amount": 2500,
            "description": "Beef noodles",
            "state": "created",
            "expires_at": ORDER["expires_at"],
            "offer": None,
            "pay_url": f"/v1/orders/{ORDER['id']}/pay",
        }
    )

    kind: Literal["order"]
    order_id: str
    amount: int
    description: str
    state: Literal["created", "paid", "closed", "expired"]
    expires_at: datetime
    offer: OfferOut | None
    pay_url: str


class StaticPreview(_Scanned):
    model_config = example(
        _SCANNED
        | {"kind": "static", "amount": None, "pay_url": f"/v1/merchants/{MERCHANT['id']}/pay"}
    )

    kind: Literal["static"]
    amount: int | None = Field(description="The amount typed, if sent; null: the payer types it.")
    offer: OfferOut | None = sometimes(
        description="Only when an amount was sent: the discount for it, or null."
    )
    pay_url: str


class HoldPreview(_Scanned):
    model_config = example(
        _SCANNED
        | {
            "kind": "hold",
            "hold_id": HOLD["id"],
            "amount": 9900,
            "description": "Bike deposit",
            "state": "requested",
            "expires_at": HOLD["expires_at"],
            "consent_url": f"/v1/holds/{HOLD['id']}/consent",
        }
    )

    kind: Literal["hold"]
    hold_id: str
    amount: int
    description: str
    state: HoldState
    expires_at: datetime
    consent_url: str


class PersonOut(Out):
    id: str
    display_name: str


class PersonPreview(Out):
    model_config = example(
        {
            "kind": "person",
            "person": {"id": "c_2a3b4c5d6e7f", "display_name": "Li Wei"},
            "currency": "CNY",
            "amount": None,
            "pay_url": "/v1/transfers",
        }
    )

    kind: Literal["person"]
    person: PersonOut
    currency: str
    amount: None
    pay_url: str


Preview = Annotated[
    OrderPreview | StaticPreview | HoldPreview | PersonPreview, Field(discriminator="kind")
]
