"""Campaigns through the payments service on both databases: budgets and limits under a rush."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.funding.bank import BankOutcome
from saoma.wallets.service import Consumer
from support import approved, open_platform, wait_until

PIN = "246810"
PASSWORD = "correct horse battery"
_phones = itertools.count()


def funded(p: Platform, n: int, balance: int) -> list[Consumer]:
    people = []
    for _ in range(n):
        c = p.wallets.sign_up(f"+86138{next(_phones):08d}", PASSWORD)
        p.wallets.set_pin(c.id, PIN, password=PASSWORD, old_pin=None)
        top = p.funding.top_up(c, balance)
        p.funding.settled(BankOutcome(top["id"], True, "T"))
        people.append(c)
    return people


def shop_with_takings(p: Platform, takings: int) -> object:
    shop = p.merchants.sign_up(
        login="noodles@example.cn", password=PASSWORD, name="Old Chen Noodles", city="Shenzhen"
    )
    approved(p, shop)
    (regular,) = funded(p, 1, takings * 2)
    p.payments.pay_static(regular, shop.id, amount=takings, pin=PIN)
    return shop


def pay_with_best_offer(p: Platform, consumer: Consumer, shop_id: str, amount: int) -> dict:
    offer = p.promotions.quote(consumer, shop_id, amount, f"static:{amount}")
    try:
        return p.payments.pay_static(
            consumer,
            shop_id,
            amount=amount,
            pin=PIN,
            offer_id=offer["offer_id"] if offer else None,
        )
    except SaomaError as exc:
        if exc.slug != "offer-unavailable":
            raise
        # The payer is shown the new price and confirms again: never charged silently.
        return p.payments.pay_static(consumer, shop_id, amount=amount, pin=PIN)


def test_a_rush_at_a_budget_for_100_gives_exactly_100_discounts(platform: Platform) -> None:
    shop = shop_with_takings(platform, 20_000)
    campaign = platform.promotions.create(
        shop,
        {"name": "¥1 off", "kind": "amount_off", "amount_off": 100, "budget": 10_000},  # type: ignore[arg-type]
    )
    payers = funded(platform, 20, 100_000)
    jobs = [payers[i % len(payers)] for i in range(1_000)]
    with ThreadPoolExecutor(32) as pool:
        paid = list(pool.map(lambda c: pay_with_best_offer(platform, c, shop.id, 1_000), jobs))  # type: ignore[attr-defined]
    discounted = [p for p in paid if p["discount"]]
    assert len(paid) == 1_000
    assert len(discounted) == 100 and all(p["discount"] == 100 for p in discounted)
    report = platform.promotions.get(shop, campaign["id"])  # type: ignore[arg-type]
    assert (report["used_count"], report["subsidy_paid"], report["budget_left"]) == (100, 10_000, 0)
    spent = sum(100_000 - platform.wallets.balance(c)["balance"] for c in payers)
    assert spent == 1_000 * 1_000 - 100 * 100


def test_per_consumer_daily_limit_holds_under_concurrency(platform: Platform) -> None:
    shop = shop_with_takings(platform, 20_000)
    platform.promotions.create(
        shop,  # type: ignore[arg-type]
        {
            "name": "once a day",
            "kind": "amount_off",
            "amount_off": 200,
            "budget": 10_000,
            "per_consumer_per_day": 1,
        },
    )
    (payer,) = funded(platform, 1, 50_000)
    offers = [platform.promotions.quote(payer, shop.id, 1_000, "static:1000") for _ in range(10)]  # type: ignore[attr-defined]
    assert all(o is not None for o in offers)

    def pay(offer: dict) -> int:
        try:
            return platform.payments.pay_static(
                payer,
                shop.id,
                amount=1_000,
                pin=PIN,
                offer_id=offer["offer_id"],  # type: ignore[attr-defined]
            )["discount"]
        except SaomaError as exc:
            assert exc.slug == "offer-unavailable"
            return -1

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(pay, offers))
    assert outcomes.count(200) == 1 and outcomes.count(-1) == 9


def test_an_offer_is_used_once_and_only_for_its_payment(platform: Platform) -> None:
    shop = shop_with_takings(platform, 20_000)
    platform.promotions.create(
        shop,
        {"name": "¥3 off", "kind": "amount_off", "amount_off": 300, "budget": 10_000},  # type: ignore[arg-type]
    )
    (payer,) = funded(platform, 1, 50_000)
    offer = platform.promotions.quote(payer, shop.id, 2_000, "static:2000")  # type: ignore[attr-defined]
    assert offer is not None and offer["pay_amount"] == 1_700
    with pytest.raises(SaomaError) as other_amount:
        platform.payments.pay_static(
            payer, shop.id, amount=2_500, pin=PIN, offer_id=offer["offer_id"]
        )  # type: ignore[attr-defined]
    assert other_amount.value.field == "offer_id"
    first = platform.payments.pay_static(
        payer, shop.id, amount=2_000, pin=PIN, offer_id=offer["offer_id"]
    )  # type: ignore[attr-defined]
    assert (first["amount"], first["discount"], first["paid"]) == (2_000, 300, 1_700)
    with pytest.raises(SaomaError) as again:
        platform.payments.pay_static(
            payer, shop.id, amount=2_000, pin=PIN, offer_id=offer["offer_id"]
        )  # type: ignore[attr-defined]
    assert again.value.slug == "offer-unavailable"


def test_pause_stops_discounts_and_end_returns_the_budget(platform: Platform) -> None:
    shop = shop_with_takings(platform, 20_000)
    before = platform.merchants.balance(shop)  # type: ignore[arg-type]
    campaign = platform.promotions.create(
        shop,
        {"name": "¥2 off", "kind": "amount_off", "amount_off": 200, "budget": 5_000},  # type: ignore[arg-type]
    )
    assert platform.merchants.balance(shop) == before - 5_000  # type: ignore[arg-type]
    (payer,) = funded(platform, 1, 50_000)
    offer = platform.promotions.quote(payer, shop.id, 1_000, "static:1000")  # type: ignore[attr-defined]
    platform.promotions.set_state(shop, campaign["id"], "paused")  # type: ignore[arg-type]
    with pytest.raises(SaomaError) as paused:
        platform.payments.pay_static(
            payer, shop.id, amount=1_000, pin=PIN, offer_id=offer["offer_id"]
        )  # type: ignore[attr-defined,index]
    assert paused.value.slug == "offer-unavailable"
    platform.promotions.set_state(shop, campaign["id"], "active")  # type: ignore[arg-type]
    offer = platform.promotions.quote(payer, shop.id, 1_000, "static:1000")  # type: ignore[attr-defined]
    paid = platform.payments.pay_static(
        payer, shop.id, amount=1_000, pin=PIN, offer_id=offer["offer_id"]
    )  # type: ignore[attr-defined,index]
    ended = platform.promotions.set_state(shop, campaign["id"], "ended")  # type: ignore[arg-type]
    assert (ended["budget_left"], ended["returned_to_funder"]) == (0, 4_800)
    assert platform.promotions.quote(payer, shop.id, 1_000, "static:1000") is None  # type: ignore[attr-defined]

    # A refund after the end sends the campaign's share back to the merchant who funded it.
    refund = platform.payments.refund(shop, paid["id"], amount=1_000, merchant_refund_no="R1")  # type: ignore[arg-type]
    assert (refund["to_payer"], refund["to_campaign"]) == (800, 200)
    assert platform.wallets.balance(payer)["balance"] == 50_000


def test_refunds_unwind_the_subsidy_in_proportion(platform: Platform) -> None:
    shop = shop_with_takings(platform, 20_000)
    platform.promotions.create(
        shop,
        {"name": "10% off", "kind": "percent_off", "percent_ppm": 100_000, "budget": 5_000},  # type: ignore[arg-type]
    )
    (payer,) = funded(platform, 1, 50_000)
    offer = platform.promotions.quote(payer, shop.id, 3_000, "static:3000")  # type: ignore[attr-defined]
    paid = platform.payments.pay_static(
        payer, shop.id, amount=3_000, pin=PIN, offer_id=offer["offer_id"]
    )  # type: ignore[attr-defined,index]
    assert paid["paid"] == 2_700
    parts = [
        platform.payments.refund(shop, paid["id"], amount=a, merchant_refund_no=f"R{i}")  # type: ignore[arg-type]
        for i, a in enumerate((1_000, 1_000, 1_000))
    ]
    assert sum(p["to_payer"] for p in parts) == 2_700
    assert sum(p["to_campaign"] for p in parts) == 300
    assert platform.wallets.balance(payer)["balance"] == 50_000


def test_another_process_sees_campaigns_start_and_pause_within_seconds(
    platform: Platform, db_url: str
) -> None:
    """Two servers on one database: what one changes, the other's previews show within about a
    second — the list of campaigns is re-read in the background, previews never wait for it."""
    other = open_platform(db_url)
    try:
        shop = shop_with_takings(platform, 20_000)
        (payer,) = funded(platform, 1, 50_000)
        assert other.promotions.quote(payer, shop.id, 1_000, "static:1000") is None  # type: ignore[attr-defined]

        def seen_by_other(expected: int | None) -> float:
            def shown() -> bool:
                offer = other.promotions.quote(payer, shop.id, 1_000, "static:1000")  # type: ignore[attr-defined]
                return (offer and offer["discount"]) == expected

            return wait_until(shown, timeout_s=5, what=f"the other process to show {expected}")

        campaign = platform.promotions.create(
            shop,
            {"name": "¥2 off", "kind": "amount_off", "amount_off": 200, "budget": 5_000},  # type: ignore[arg-type]
        )
        assert seen_by_other(200) < 3
        platform.promotions.set_state(shop, campaign["id"], "paused")  # type: ignore[arg-type]
        assert seen_by_other(None) < 3
        platform.promotions.set_state(shop, campaign["id"], "active")  # type: ignore[arg-type]
        assert seen_by_other(200) < 3
        # Here, in the process that made the change, it shows at once.
        platform.promotions.set_state(shop, campaign["id"], "ended")  # type: ignore[arg-type]
        assert platform.promotions.quote(payer, shop.id, 1_000, "static:1000") is None  # type: ignore[attr-defined]
    finally:
        other.close()


def test_a_campaign_created_again_under_its_key_is_funded_once(platform: Platform) -> None:
    """The request died after the budget moved; its retry takes the key over and runs again."""
    from saoma.payments.idempotency import Claim

    shop = shop_with_takings(platform, 20_000)
    spec = {"name": "¥1 off", "kind": "amount_off", "amount_off": 100, "budget": 5_000}
    first = platform.promotions.create(shop, spec, claim=Claim(shop.id, "k-1"))  # type: ignore[arg-type]
    again = platform.promotions.create(shop, spec, claim=Claim(shop.id, "k-1"))  # type: ignore[arg-type]
    other = platform.promotions.create(shop, spec, claim=Claim(shop.id, "k-2"))  # type: ignore[arg-type]
    assert again["id"] == first["id"] != other["id"]
    assert platform.merchants.balance(shop) == 20_000 - 120 - 2 * 5_000  # type: ignore[arg-type]
