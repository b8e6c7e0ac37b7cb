"""Refunds in process: partial, full, too much, shares that add up, a discounted payment."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saoma.api.problems import status_of
from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.merchants.service import Merchant
from saoma.payments.refunds import refund_share
from saoma.wallets.service import Consumer
from support import PIN

Payer = Callable[[int], Consumer]
Shop = Callable[..., Merchant]


def paid_at(platform: Platform, shop: Merchant, payer: Consumer, amount: int) -> dict[str, Any]:
    return platform.payments.pay_static(payer, shop.id, amount=amount, pin=PIN)


def test_a_partial_then_the_rest(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    noodles, alice = shop(), payer(10_000)
    paid = paid_at(platform, noodles, alice, 2_000)  # fee 12
    assert (balances.merchant(noodles), balances.fees()) == (1_988, 12)
    part = platform.payments.refund(
        noodles, paid["id"], amount=500, merchant_refund_no="R-1", reason="one bowl cold"
    )
    assert (part["amount"], part["to_payer"], part["fee_returned"]) == (500, 500, 3)
    assert balances.wallet(alice) == 8_500
    rest = platform.payments.refund(noodles, paid["id"], amount=1_500, merchant_refund_no="R-2")
    assert rest["fee_returned"] == 9  # all of the fee is back once all is refunded
    assert (balances.wallet(alice), balances.merchant(noodles), balances.fees()) == (10_000, 0, 0)
    seen = platform.payments.payment_for_consumer(alice, paid["id"])
    assert seen["refunded"] == 2_000
    assert [r["merchant_refund_no"] for r in seen["refunds"]] == ["R-1", "R-2"]


def test_a_refund_number_refunds_once(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    noodles, alice = shop(), payer(10_000)
    paid = paid_at(platform, noodles, alice, 1_000)
    first = platform.payments.refund(noodles, paid["id"], amount=400, merchant_refund_no="R-1")
    again = platform.payments.refund(noodles, paid["id"], amount=400, merchant_refund_no="R-1")
    assert again == first
    assert balances.wallet(alice) == 9_400
    with pytest.raises(SaomaError) as reused:
        platform.payments.refund(noodles, paid["id"], amount=300, merchant_refund_no="R-1")
    assert reused.value.slug == "refund-number-reused"
    assert platform.payments.refund_by_no(noodles, "R-1") == first


def test_more_than_is_left_is_refused_and_moves_nothing(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    noodles, alice = shop(), payer(10_000)
    paid = paid_at(platform, noodles, alice, 1_000)
    platform.payments.refund(noodles, paid["id"], amount=600, merchant_refund_no="R-1")
    with pytest.raises(SaomaError) as refused:
        platform.payments.refund(noodles, paid["id"], amount=401, merchant_refund_no="R-2")
    assert (refused.value.slug, status_of(refused.value)) == ("refund-exceeds-payment", 422)
    assert balances.wallet(alice) == 9_600
    assert platform.payments.merchant_refunds(noodles)["data"][0]["merchant_refund_no"] == "R-1"
    other = shop("Tea House")
    with pytest.raises(SaomaError) as hidden:  # another merchant's payment is not there for it
        platform.payments.refund(other, paid["id"], amount=1, merchant_refund_no="X")
    assert hidden.value.slug == "not-found"


def test_odd_partial_refunds_return_exactly_the_fee(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    noodles, alice = shop(), payer(10_000)
    paid = paid_at(platform, noodles, alice, 2_227)  # fee 13: no part divides it evenly
    parts = [1, 333, 700, 1_112, 81]
    numbers = itertools.count()
    returned = []
    for amount in parts:
        refund = platform.payments.refund(
            noodles, paid["id"], amount=amount, merchant_refund_no=f"R-{next(numbers)}"
        )
        returned.append(refund["fee_returned"])
        assert sum(returned) == 13 * sum(parts[: len(returned)]) // 2_227  # never ahead
    assert sum(returned) == 13
    assert (balances.wallet(alice), balances.merchant(noodles), balances.fees()) == (10_000, 0, 0)


def test_a_discounted_payment_gives_the_campaign_its_part_back(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    noodles, regular, alice = shop(), payer(50_000), payer(10_000)
    paid_at(platform, noodles, regular, 20_000)  # takings to fund a campaign from
    campaign = platform.promotions.create(
        noodles, {"name": "10% off", "kind": "percent_off", "percent_ppm": 100_000, "budget": 900}
    )
    offer = platform.promotions.quote(alice, noodles.id, 3_001, "static:3001")
    assert offer is not None
    paid = platform.payments.pay_static(
        alice, noodles.id, amount=3_001, pin=PIN, offer_id=offer["offer_id"]
    )
    assert (paid["discount"], paid["paid"]) == (300, 2_701)
    assert balances.wallet(alice) == 10_000 - 2_701
    parts = [
        platform.payments.refund(noodles, paid["id"], amount=a, merchant_refund_no=f"R-{n}")
        for n, a in enumerate((1_000, 1_001, 1_000))
    ]
    assert sum(p["to_campaign"] for p in parts) == 300
    assert sum(p["to_payer"] for p in parts) == 2_701
    assert balances.wallet(alice) == 10_000
    left = platform.promotions.get(noodles, campaign["id"])
    assert left["budget_left"] == 900  # type: ignore[index]


@given(
    amount=st.integers(1, 10**9),
    part=st.integers(0, 10**7),
    cuts=st.lists(st.integers(1, 10**9), max_size=8),
)
def test_each_share_is_never_ahead_and_all_add_up(amount: int, part: int, cuts: list[int]) -> None:
    """refund_share: the returns of refunds cut anyhow never pass what is left, and sum to the
    whole part once the payment is refunded in full."""
    part = part % (amount + 1)  # a fee or subsidy is at most the payment
    points = sorted({c % amount for c in cuts} | {0, amount})
    returns = [
        refund_share(part, b, amount) - refund_share(part, a, amount)
        for a, b in itertools.pairwise(points)
    ]
    assert all(r >= 0 for r in returns)
    assert sum(returns) == part
