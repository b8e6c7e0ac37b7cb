"""Refunds of a split payment: each receiver gives back its part, worked out with
``money.split`` over what the merchant and each split still hold, so every refund's parts add
up to it and a payment refunded in full has every split returned exactly."""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saoma.api.problems import status_of
from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.ledger import Transfer, TransferCode
from saoma.ledger.check import check_ledger
from saoma.merchants.service import Merchant
from saoma.payments.refunds import split_backs
from settlement.court import Court

MakeCourt = Callable[..., Court]


def cuts(rng: random.Random, total: int, pieces: int) -> list[int]:
    """``total`` cut into up to ``pieces`` positive parts at random."""
    marks = sorted(rng.sample(range(1, total), min(pieces, total) - 1)) if total > 1 else []
    return [b - a for a, b in zip([0, *marks], [*marks, total], strict=True)]


@given(
    amount=st.integers(1, 10**9),
    shares=st.lists(st.integers(0, 1_000_000), min_size=1, max_size=4),
    seed=st.integers(0, 2**32),
)
def test_the_parts_of_any_refunds_add_up_to_each_split(
    amount: int, shares: list[int], seed: int
) -> None:
    rng = random.Random(seed)
    held = [amount * s // 4_000_000 for s in shares]  # at most a quarter each: they fit
    splits = [(f"s{i}", "r", h, 0) for i, h in enumerate(held)]
    left = amount
    for refund in cuts(rng, amount, rng.randint(1, 12)):
        backs = split_backs(refund, left, splits)
        assert all(b.back >= 0 for b in backs) and sum(b.back for b in backs) <= refund
        splits = [(i, r, a, ret + b.back) for (i, r, a, ret), b in zip(splits, backs, strict=True)]
        assert all(ret <= a for _, _, a, ret in splits)
        left -= refund
    assert [ret for _, _, _, ret in splits] == held


def two_receivers(platform: Platform, c: Court, shop: Callable[..., Merchant]) -> Merchant:
    market = shop("Huaqiangbei Market")
    proposed = platform.splits.propose(c.stall, market.id, share_ppm=50_000, cap=2_000)
    platform.splits.accept(market, proposed["id"])
    return market


def split_twice(platform: Platform, c: Court, market: Merchant, amount: int) -> dict[str, Any]:
    paid = c.pay(amount)
    platform.splits.split_payment(c.stall, paid["id"], c.agreement["id"])
    (market_agreement,) = [
        a for a in platform.splits.agreements_of(market)["data"] if a["state"] == "accepted"
    ]
    platform.splits.split_payment(c.stall, paid["id"], market_agreement["id"])
    return paid


def test_partial_refunds_of_many_sizes_return_each_split_exactly(
    platform: Platform, court: MakeCourt, shop: Callable[..., Merchant]
) -> None:
    c = court()
    market = two_receivers(platform, c, shop)
    rng = random.Random(7)
    for n, amount in enumerate((1, 7, 99, 1_001, 2_501, 33_333, 99_999)):
        paid = split_twice(platform, c, market, amount)
        splits = platform.splits.splits_of(c.stall, paid["id"])["data"]
        for k, part in enumerate(cuts(rng, amount, 5)):
            platform.payments.refund(
                c.stall, paid["id"], amount=part, merchant_refund_no=f"{n}-{k}"
            )
            now = platform.splits.splits_of(c.stall, paid["id"])["data"]
            assert all(s["returned"] <= s["amount"] for s in now)
        returned = platform.splits.splits_of(c.stall, paid["id"])["data"]
        assert [s["returned"] for s in returned] == [s["amount"] for s in splits]
    assert (c.balance(c.court), c.balance(market), c.balance(c.stall)) == (0, 0, 0)
    assert check_ledger(platform.engine).ok


def test_a_refund_takes_each_receivers_part_first(
    platform: Platform, court: MakeCourt, shop: Callable[..., Merchant]
) -> None:
    c = court()
    market = two_receivers(platform, c, shop)
    paid = split_twice(platform, c, market, 10_000)  # 800 to the court, 500 to the market
    refund = platform.payments.refund(c.stall, paid["id"], amount=1_000, merchant_refund_no="R")
    assert refund["amount"] == 1_000
    returned = [s["returned"] for s in platform.splits.splits_of(c.stall, paid["id"])["data"]]
    assert returned == [80, 50]  # 1000 split over 8700 held by the stall, 800 and 500
    assert (c.balance(c.court), c.balance(market)) == (720, 450)


def test_a_receiver_that_cannot_give_its_part_back_stops_the_refund(
    platform: Platform, court: MakeCourt
) -> None:
    c = court()
    paid = c.pay(10_000)
    platform.splits.split_payment(c.stall, paid["id"], c.agreement["id"])
    paid_out = Transfer(
        "payout-court",
        c.court.account_id,
        platform.payments.bank_account,
        800,
        TransferCode.WITHDRAWAL,
    )
    platform.ledger.create_transfers([paid_out])  # the court's share went to its bank
    with pytest.raises(SaomaError) as refused:
        platform.payments.refund(c.stall, paid["id"], amount=5_000, merchant_refund_no="R")
    problem = refused.value
    assert (problem.slug, status_of(problem)) == ("insufficient-funds", 402)
    assert "Futian Food Court" in problem.detail and problem.extra["receiver_id"] == c.court.id
    assert c.platform.payments.payment_for_merchant(c.stall, paid["id"])["refunded"] == 0
    assert platform.splits.splits_of(c.stall, paid["id"])["data"][0]["returned"] == 0


@pytest.mark.slow
def test_fifty_partial_refunds_at_once_never_return_more_than_the_splits(
    platform: Platform, other: Platform, court: MakeCourt, shop: Callable[..., Merchant]
) -> None:
    c = court()
    market = two_receivers(platform, c, shop)
    paid = split_twice(platform, c, market, 4_999)  # 400 and 250
    parts = [100] * 49 + [99]

    def refund(n: int) -> dict[str, Any]:
        return (platform, other)[n % 2].payments.refund(
            c.stall, paid["id"], amount=parts[n], merchant_refund_no=f"F-{n}"
        )

    with ThreadPoolExecutor(50) as pool:
        done = list(pool.map(refund, range(50)))
    assert len({r["id"] for r in done}) == 50
    splits = platform.splits.splits_of(c.stall, paid["id"])["data"]
    assert [(s["amount"], s["returned"]) for s in splits] == [(400, 400), (250, 250)]
    assert (c.balance(c.court), c.balance(market), c.balance(c.stall)) == (0, 0, 0)
