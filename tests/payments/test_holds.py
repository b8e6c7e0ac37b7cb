"""Holds in process: requested, consented, captured in part, voided and expired."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text

from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.core.ids import now_us
from saoma.merchants.service import Merchant
from saoma.payments import tables as m
from saoma.wallets.service import Consumer
from support import PIN

Payer = Callable[[int], Consumer]
Shop = Callable[..., Merchant]


def held(platform: Platform, bikes: Merchant, rider: Consumer, ref: str) -> dict[str, Any]:
    """A ¥99 deposit the rider consented to."""
    hold = platform.payments.create_hold(
        bikes, merchant_ref=ref, amount=9_900, currency="CNY", expires_in_s=3_600
    )
    assert hold["state"] == "requested" and hold["qr_payload"]
    consented = platform.payments.consent_hold(rider, hold["id"], pin=PIN)
    assert consented["state"] == "held"
    return consented


def test_a_hold_reserves_and_a_capture_takes_part(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    bikes, rider = shop("Green Bikes"), payer(20_000)
    hold = held(platform, bikes, rider, "ride-1")
    reserved = {"balance": 20_000, "available": 10_100, "held": 9_900}
    assert platform.wallets.balance(rider) == reserved
    assert [h["id"] for h in platform.payments.holds_of(rider)["data"]] == [hold["id"]]
    captured = platform.payments.capture_hold(bikes, hold["id"], amount=1_500)  # a short ride
    assert (captured["state"], captured["captured"]) == ("captured", 1_500)
    assert platform.wallets.balance(rider) == {"balance": 18_500, "available": 18_500, "held": 0}
    assert (balances.merchant(bikes), balances.fees()) == (1_500 - 9, 9)
    payment = platform.payments.payment_for_merchant(bikes, captured["payment_id"])
    assert (payment["kind"], payment["amount"], payment["fee"]) == ("capture", 1_500, 9)
    with platform.engine.connect() as conn:  # the capture's row is a whole payment row
        row = conn.execute(
            select(m.payments).where(m.payments.c.id == captured["payment_id"])
        ).one()
    assert (row.subsidy, row.campaign_id, row.subsidy_refunded) == (0, None, 0)
    again = platform.payments.capture_hold(bikes, hold["id"], amount=1_500)
    assert again["payment_id"] == captured["payment_id"]
    with pytest.raises(SaomaError) as other:
        platform.payments.capture_hold(bikes, hold["id"], amount=1_600)
    assert other.value.slug == "hold-already-captured"


def test_a_capture_cannot_take_more_than_is_held(
    platform: Platform, payer: Payer, shop: Shop
) -> None:
    bikes, rider = shop("Green Bikes"), payer(20_000)
    hold = held(platform, bikes, rider, "ride-2")
    with pytest.raises(SaomaError) as refused:
        platform.payments.capture_hold(bikes, hold["id"], amount=9_901)
    assert refused.value.slug == "capture-exceeds-hold"
    assert platform.wallets.balance(rider)["held"] == 9_900


def test_a_void_releases_the_hold(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    bikes, rider = shop("Green Bikes"), payer(20_000)
    hold = held(platform, bikes, rider, "ride-3")
    voided = platform.payments.void_hold(bikes, hold["id"])
    assert voided["state"] == "voided"
    assert platform.payments.void_hold(bikes, hold["id"])["state"] == "voided"  # again: no-op
    assert platform.wallets.balance(rider) == {"balance": 20_000, "available": 20_000, "held": 0}
    assert balances.merchant(bikes) == 0
    with pytest.raises(SaomaError) as closed:
        platform.payments.capture_hold(bikes, hold["id"], amount=100)
    assert closed.value.slug == "hold-not-open"
    asked = platform.payments.create_hold(
        bikes, merchant_ref="ride-4", amount=500, currency="CNY", expires_in_s=60
    )
    assert platform.payments.void_hold(bikes, asked["id"])["state"] == "voided"
    with pytest.raises(SaomaError) as gone:
        platform.payments.consent_hold(rider, asked["id"], pin=PIN)
    assert gone.value.slug == "hold-not-open"


def test_a_hold_past_its_time_expires_and_releases(
    platform: Platform, payer: Payer, shop: Shop
) -> None:
    bikes, rider = shop("Green Bikes"), payer(20_000)
    hold = held(platform, bikes, rider, "ride-5")
    past = now_us() - 1
    with platform.engine.begin() as conn:  # its hour has passed, in the payments and the ledger
        conn.execute(
            text("UPDATE preauths SET expires_at_us = :past WHERE id = :id"),
            {"past": past, "id": hold["id"]},
        )
        conn.execute(
            text("UPDATE holds SET expires_at_us = :past WHERE transfer_id = :id"),
            {"past": past, "id": platform.payments._hold_row(hold["id"]).transfer_id},
        )
    assert platform.payments.get_hold(bikes, hold["id"])["state"] == "expired"
    with pytest.raises(SaomaError) as late:
        platform.payments.capture_hold(bikes, hold["id"], amount=100)
    assert late.value.slug == "hold-not-open"
    assert platform.payments.expire_holds() == 1
    assert platform.wallets.balance(rider) == {"balance": 20_000, "available": 20_000, "held": 0}
    expired = platform.payments.merchant_holds(bikes, state="expired")["data"]
    assert [h["id"] for h in expired] == [hold["id"]]


def test_a_hold_reference_is_the_merchants_key(platform: Platform, shop: Shop) -> None:
    bikes = shop("Green Bikes")
    make = platform.payments.create_hold
    first = make(bikes, merchant_ref="ride-6", amount=500, currency="CNY", expires_in_s=60)
    again = make(bikes, merchant_ref="ride-6", amount=500, currency="CNY", expires_in_s=60)
    assert again["id"] == first["id"]
    with pytest.raises(SaomaError) as reused:
        make(bikes, merchant_ref="ride-6", amount=600, currency="CNY", expires_in_s=60)
    assert reused.value.slug == "hold-reference-reused"
    with pytest.raises(SaomaError) as short:
        make(bikes, merchant_ref="ride-7", amount=600, currency="CNY", expires_in_s=59)
    assert (short.value.slug, short.value.field) == ("invalid-request", "expires_in_s")
