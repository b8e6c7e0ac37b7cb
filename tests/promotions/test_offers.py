"""Offers and coupons through the Promotions service, in process: which campaign a preview
offers, the limits a payer meets, the coupon a campaign asks for, and an offer that no longer
matches its payment."""

from __future__ import annotations

from typing import Any

import pytest

from p2p.conftest import PIN, wallet
from promotions.conftest import OFF, with_takings
from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.promotions import offers
from saoma.wallets.service import Consumer


def quote(p: Platform, payer: Consumer, shop_id: str, amount: int) -> dict[str, Any] | None:
    return p.promotions.quote(payer, shop_id, amount, f"static:{amount}")


def pay(p: Platform, payer: Consumer, shop_id: str, amount: int) -> dict[str, Any]:
    offer = quote(p, payer, shop_id, amount)
    assert offer is not None
    return p.payments.pay_static(payer, shop_id, amount=amount, pin=PIN, offer_id=offer["offer_id"])


def test_the_largest_discount_wins_and_a_spend_threshold_holds(platform: Platform) -> None:
    p = platform
    noodles = with_takings(p)
    p.promotions.create(noodles, OFF)
    bigger = p.promotions.create(
        noodles,
        {**OFF, "name": "5 off 30", "kind": "spend_get", "amount_off": 500, "min_spend": 3_000},
    )
    payer = wallet(p, 10_000)
    small = quote(p, payer, noodles.id, 2_999)
    assert small is not None and small["discount"] == 100
    large = quote(p, payer, noodles.id, 3_000)
    assert large is not None and large["campaign_id"] == bigger["id"]
    assert large["pay_amount"] == 2_500


def test_limits_per_payer_and_in_all_stop_the_offers(platform: Platform) -> None:
    p = platform
    noodles = with_takings(p)
    p.promotions.create(noodles, {**OFF, "per_consumer_total": 1})
    first, second = wallet(p, 10_000), wallet(p, 10_000)
    assert pay(p, first, noodles.id, 1_000)["discount"] == 100
    assert quote(p, first, noodles.id, 1_000) is None  # used its one
    assert quote(p, second, noodles.id, 1_000) is not None
    tea = with_takings(p)
    made = p.promotions.create(tea, {**OFF, "total_count": 1})
    assert pay(p, first, tea.id, 1_000)["discount"] == 100
    assert quote(p, second, tea.id, 1_000) is None  # the one use in all is taken
    assert p.promotions.get(tea, made["id"])["used_count"] == 1


def test_a_first_payment_offer_is_for_new_customers_only(platform: Platform) -> None:
    p = platform
    noodles = with_takings(p)
    p.promotions.create(noodles, {**OFF, "first_payment_only": True})
    regular, newcomer = wallet(p, 10_000), wallet(p, 10_000)
    p.payments.pay_static(regular, noodles.id, amount=500, pin=PIN)
    assert quote(p, regular, noodles.id, 1_000) is None
    assert pay(p, newcomer, noodles.id, 1_000)["discount"] == 100
    assert quote(p, newcomer, noodles.id, 1_000) is None


def test_an_offer_is_taken_only_for_its_payment_and_in_time(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = platform
    noodles = with_takings(p)
    p.promotions.create(noodles, OFF)
    payer, other = wallet(p, 10_000), wallet(p, 10_000)
    offer = quote(p, payer, noodles.id, 1_000)
    assert offer is not None
    token = offer["offer_id"]
    taken = p.promotions.take(payer, token, noodles.id, 1_000, "static:1000")
    assert (taken.discount, taken.campaign_id) == (100, offer["campaign_id"])
    for who, token_, amount in (
        (other, token, 1_000),  # another payer
        (payer, token, 1_001),  # another amount
        (payer, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), 1_000),  # tampered
        (payer, "not-a-token", 1_000),
    ):
        with pytest.raises(SaomaError) as refused:
            p.promotions.take(who, token_, noodles.id, amount, f"static:{amount}")
        assert (refused.value.slug, refused.value.field) == ("invalid-request", "offer_id")
    monkeypatch.setattr(offers, "OFFER_TTL_US", -1)  # quoted already past its five minutes
    stale = quote(p, payer, noodles.id, 1_000)
    assert stale is not None
    with pytest.raises(SaomaError) as refused:
        p.promotions.take(payer, stale["offer_id"], noodles.id, 1_000, "static:1000")
    assert refused.value.slug == "offer-unavailable"


def test_a_coupon_campaign_offers_only_to_who_collected_it_and_once(platform: Platform) -> None:
    p = platform
    noodles = with_takings(p)
    plain = p.promotions.create(noodles, {**OFF, "name": "no coupon", "amount_off": 50})
    made = p.promotions.create(noodles, {**OFF, "name": "coupon", "needs_coupon": True})
    payer = wallet(p, 10_000)
    without = quote(p, payer, noodles.id, 1_000)
    assert without is not None and without["campaign_id"] == plain["id"]
    collected = p.promotions.collect(payer, made["id"])
    assert (collected["state"], collected["name"]) == ("collected", "coupon")
    assert collected["already_collected"] is False
    again = p.promotions.collect(payer, made["id"])
    assert (again["state"], again["already_collected"]) == ("collected", True)
    held = p.promotions.coupons_of(payer)
    assert [(c["campaign_id"], c["name"], c["state"]) for c in held] == [
        (made["id"], "coupon", "collected")
    ]
    paid = pay(p, payer, noodles.id, 1_000)
    assert paid["discount"] == 100  # the coupon's campaign: the larger discount
    assert p.promotions.coupons_of(payer)[0]["state"] == "used"
    assert p.promotions.collect(payer, made["id"])["state"] == "used"  # not a second coupon
    again = quote(p, payer, noodles.id, 1_000)
    assert again is not None and again["campaign_id"] == plain["id"]


def test_a_coupon_is_only_for_a_running_coupon_campaign(platform: Platform) -> None:
    p = platform
    noodles = with_takings(p)
    plain = p.promotions.create(noodles, OFF)
    made = p.promotions.create(noodles, {**OFF, "needs_coupon": True})
    payer = wallet(p)
    for campaign_id in (plain["id"], "cmp_nothing"):
        with pytest.raises(SaomaError) as refused:
            p.promotions.collect(payer, campaign_id)
        assert refused.value.slug == "not-found"
    p.promotions.set_state(noodles, made["id"], "paused")
    with pytest.raises(SaomaError) as refused:
        p.promotions.collect(payer, made["id"])
    assert refused.value.slug == "campaign-ended"
    assert p.promotions.coupons_of(payer) == []
