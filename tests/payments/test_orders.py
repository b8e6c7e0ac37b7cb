"""Orders in process: created, paid, closed, expired and paid twice, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.core.ids import now_us
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer
from support import PIN

Payer = Callable[[int], Consumer]
Shop = Callable[..., Merchant]


def slug_of(call: Callable[[], object]) -> str:
    with pytest.raises(SaomaError) as refused:
        call()
    return refused.value.slug


def test_an_order_is_created_once_per_number(platform: Platform, shop: Shop) -> None:
    noodles = shop()
    made, new = platform.payments.create_order(
        noodles, merchant_order_no="T-7", amount=1_200, currency="CNY", description="two bowls"
    )
    assert new and made["state"] == "created" and made["payment_id"] is None
    assert made["qr_payload"].startswith("00020101021226")  # a dynamic EMVCo code
    again, new = platform.payments.create_order(
        noodles, merchant_order_no="T-7", amount=1_200, currency="CNY", description="two bowls"
    )
    assert not new and again["id"] == made["id"]
    other = platform.payments.create_order
    assert (
        slug_of(lambda: other(noodles, merchant_order_no="T-7", amount=900, currency="CNY"))
        == "order-number-reused"
    )
    assert platform.payments.find_order(noodles, "T-7") == platform.payments.get_order(
        noodles, made["id"]
    )


def test_paying_an_order_moves_the_price_and_the_fee(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    noodles, alice = shop(), payer(5_000)
    order, _ = platform.payments.create_order(
        noodles, merchant_order_no="T-1", amount=1_200, currency="CNY"
    )
    paid = platform.payments.pay_order(alice, order["id"], pin=PIN)
    assert (paid["kind"], paid["amount"], paid["paid"], paid["authorisation"]) == (
        "order",
        1_200,
        1_200,
        "pin",
    )
    assert balances.wallet(alice) == 3_800
    assert balances.merchant(noodles) == 1_200 - 7
    assert balances.fees() == 7
    shown = platform.payments.get_order(noodles, order["id"])
    assert (shown["state"], shown["payment_id"]) == ("paid", paid["id"])
    mine = platform.payments.list_payments(consumer=alice)["data"]
    assert [p["id"] for p in mine] == [paid["id"]]
    theirs = platform.payments.payment_for_merchant(noodles, paid["id"])
    assert (theirs["fee"], theirs["net"], theirs["refunds"]) == (7, 1_193, [])


def test_an_order_is_paid_once(platform: Platform, payer: Payer, shop: Shop, balances: Any) -> None:
    noodles, alice, bob = shop(), payer(5_000), payer(5_000)
    order, _ = platform.payments.create_order(
        noodles, merchant_order_no="T-2", amount=1_000, currency="CNY"
    )
    first = platform.payments.pay_order(alice, order["id"], pin=PIN)
    again = platform.payments.pay_order(alice, order["id"], pin=PIN)  # the payer's retry
    assert again["id"] == first["id"]
    assert slug_of(lambda: platform.payments.pay_order(bob, order["id"], pin=PIN)) == (
        "order-already-paid"
    )
    assert balances.wallet(alice) == 4_000
    assert balances.wallet(bob) == 5_000
    assert slug_of(lambda: platform.payments.close_order(noodles, order["id"])) == "order-paid"


def test_a_closed_or_expired_order_cannot_be_paid(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    noodles, alice = shop(), payer(5_000)
    make = platform.payments.create_order
    closing, _ = make(noodles, merchant_order_no="C-1", amount=500, currency="CNY")
    closed = platform.payments.close_order(noodles, closing["id"])
    assert closed["state"] == "closed"
    assert platform.payments.close_order(noodles, closing["id"])["state"] == "closed"
    assert slug_of(lambda: platform.payments.pay_order(alice, closing["id"], pin=PIN)) == (
        "order-closed"
    )
    late, _ = make(noodles, merchant_order_no="E-1", amount=500, currency="CNY")
    with platform.engine.begin() as conn:  # its quarter of an hour has passed
        conn.execute(
            text("UPDATE orders SET expires_at_us = :past WHERE id = :id"),
            {"past": now_us() - 1, "id": late["id"]},
        )
    assert platform.payments.get_order(noodles, late["id"])["state"] == "expired"
    assert slug_of(lambda: platform.payments.pay_order(alice, late["id"], pin=PIN)) == (
        "order-expired"
    )
    assert balances.wallet(alice) == 5_000


def test_a_payment_needs_the_pin_and_the_money(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    noodles, alice = shop(), payer(300)
    pay = platform.payments.pay_static
    assert slug_of(lambda: pay(alice, noodles.id, amount=100, pin=None)) == "pin-required"
    assert slug_of(lambda: pay(alice, noodles.id, amount=301, pin=PIN)) == "insufficient-funds"
    assert slug_of(lambda: pay(alice, noodles.id, amount=0, pin=PIN)) == "invalid-request"
    assert balances.wallet(alice) == 300
    assert platform.payments.list_payments(consumer=alice)["data"] == []
