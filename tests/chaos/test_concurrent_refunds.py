"""Partial refunds sent together: the fee and the campaign's share go back exactly in proportion.

After refunds totalling R of a payment of A, the fee returned is exactly floor(fee * R / A), so a
full refund returns all of it, whatever the order and however the refunds overlap; the same for
a discount's subsidy. Two refunds that read the same refunded total must not both round down.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from saoma.bootstrap import Platform
from saoma.db import make_engine
from saoma.funding.bank import BankOutcome
from saoma.payments.service import Payments
from saoma.wallets.service import Consumer
from support import approved, open_platform

# Runs after the other tests, on its own (Makefile): its time budgets (a settle-down, a
# failover within seconds, a crash's recovery) assume a machine no other test worker shares.
pytestmark = pytest.mark.alone

PIN = "246810"
PASSWORD = "correct horse battery"
_numbers = itertools.count()


@pytest.fixture
def other(db_url: str, platform: Platform) -> Iterator[Platform]:
    """A second server's services on the same database: refunds through each of the two race in
    the database (through one, they also go one at a time per payment)."""
    p = open_platform(db_url)
    yield p
    p.close()


def payer(p: Platform, balance: int) -> Consumer:
    c = p.wallets.sign_up(f"+86137{next(_numbers):08d}", PASSWORD)
    p.wallets.set_pin(c.id, PIN, password=PASSWORD, old_pin=None)
    top = p.funding.top_up(c, balance)
    p.funding.settled(BankOutcome(top["id"], True, "T"))
    return c


def shop_paid(p: Platform, amount: int, *, discounted: bool = False) -> tuple[Any, dict]:
    """A new merchant whose only money is one payment of ``amount`` (less the fee)."""
    n = next(_numbers)
    shop = approved(
        p,
        p.merchants.sign_up(
            login=f"shop{n}@example.cn", password=PASSWORD, name="Old Chen Noodles", city="Shenzhen"
        ),
    )
    offer_id = None
    consumer = payer(p, amount * 3)
    if discounted:
        # The campaign is funded from the merchant's earlier takings.
        p.payments.pay_static(payer(p, 200_000), shop.id, amount=100_000, pin=PIN)
        p.promotions.create(
            shop,
            {"name": "7% off", "kind": "percent_off", "percent_ppm": 70_000, "budget": 50_000},
        )
        offer = p.promotions.quote(consumer, shop.id, amount, f"static:{amount}")
        assert offer is not None
        offer_id = offer["offer_id"]
    paid = p.payments.pay_static(consumer, shop.id, amount=amount, pin=PIN, offer_id=offer_id)
    return shop, paid


def returned(p: Platform, payment_id: str) -> tuple[int, int, int]:
    """What the refunds of a payment gave back: amount, fee, subsidy (from the refunds list)."""
    refunds = p.payments.refunds_of(payment_id)
    return (
        sum(r["amount"] for r in refunds),
        sum(r["fee_returned"] for r in refunds),
        sum(r["to_campaign"] for r in refunds),
    )


def assert_in_proportion(p: Platform, payment_id: str, fee: int, subsidy: int, amount: int) -> None:
    refunded, fee_back, sub_back = returned(p, payment_id)
    assert p.payments._payment(payment_id).refunded == refunded
    assert fee_back == fee * refunded // amount
    assert sub_back == subsidy * refunded // amount


def test_two_halves_sent_together_return_the_whole_fee(platform: Platform, other: Platform) -> None:
    """The issue's case, 20 times: 2,227 fen (fee 13) refunded by 1,113 and 1,114 at once, each
    through another server."""
    for n in range(20):
        shop, paid = shop_paid(platform, 2_227)
        assert platform.payments._payment(paid["id"]).fee == 13
        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(
                    via.payments.refund,
                    shop,
                    paid["id"],
                    amount=part,
                    merchant_refund_no=f"H{n}-{part}",
                )
                for via, part in ((platform, 1_113), (other, 1_114))
            ]
            done = [f.result() for f in futures]
        assert sum(r["amount"] for r in done) == 2_227
        assert returned(platform, paid["id"]) == (2_227, 13, 0)
        assert platform.merchants.balance(shop) == 0


def test_fifty_refunds_of_one_payment_at_once_all_go_through_and_return_the_whole_fee(
    platform: Platform, other: Platform
) -> None:
    shop, paid = shop_paid(platform, 4_999)
    assert platform.payments._payment(paid["id"]).fee == 30
    parts = [100] * 49 + [99]
    with ThreadPoolExecutor(50) as pool:
        futures = [
            pool.submit(
                (platform, other)[n % 2].payments.refund,
                shop,
                paid["id"],
                amount=part,
                merchant_refund_no=f"F-{n}",
            )
            for n, part in enumerate(parts)
        ]
        done = [f.result() for f in futures]  # none refused: the merchant is owed every fen
    assert len(done) == 50 and len({r["id"] for r in done}) == 50
    assert returned(platform, paid["id"]) == (4_999, 30, 0)
    assert platform.merchants.balance(shop) == 0


def test_a_refund_worked_out_from_a_stale_total_is_worked_out_again(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministically: the second refund reads the payment as it was before the first."""
    shop, paid = shop_paid(platform, 2_227)
    stale = platform.payments._payment(paid["id"])
    platform.payments.refund(shop, paid["id"], amount=1_113, merchant_refund_no="S-1")
    reads = iter([stale])
    real = Payments._payment

    def first_read_stale(self: Payments, payment_id: str) -> Any:
        return next(reads, None) or real(self, payment_id)

    monkeypatch.setattr(Payments, "_payment", first_read_stale)
    second = platform.payments.refund(shop, paid["id"], amount=1_114, merchant_refund_no="S-2")
    monkeypatch.undo()
    assert second["fee_returned"] == 7  # 13 - 6, not 6 again
    assert returned(platform, paid["id"]) == (2_227, 13, 0)
    assert platform.merchants.balance(shop) == 0


def _split(draw: st.DrawFn, amount: int) -> list[int]:
    cuts = draw(st.lists(st.integers(1, amount - 1), max_size=6, unique=True))
    points = [0, *sorted(cuts), amount]
    parts = [b - a for a, b in itertools.pairwise(points)]
    if draw(st.booleans()):
        parts = parts[:-1] or parts  # not always refunded in full
    return parts


@st.composite
def refund_plans(draw: st.DrawFn) -> tuple[int, bool, list[list[int]]]:
    """A payment, and its refunds in rounds: each round's refunds are sent together."""
    discounted = draw(st.booleans())
    amount = draw(st.integers(1_000 if discounted else 2, 50_000))
    parts = _split(draw, amount)
    rounds: list[list[int]] = []
    while parts:
        size = draw(st.integers(1, len(parts)))
        rounds.append(parts[:size])
        parts = parts[size:]
    return amount, discounted, rounds


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=refund_plans())
def test_returned_fee_and_subsidy_are_always_the_cumulative_share(
    platform: Platform, other: Platform, plan: tuple[int, bool, list[list[int]]]
) -> None:
    amount, discounted, rounds = plan
    shop, paid = shop_paid(platform, amount, discounted=discounted)
    row = platform.payments._payment(paid["id"])
    fee, subsidy = row.fee, row.subsidy
    numbers = itertools.count()
    for parts in rounds:
        with ThreadPoolExecutor(len(parts)) as pool:
            list(  # any refusal (a merchant short of a fen it is owed, say) raises here
                pool.map(
                    lambda n_part: (platform, other)[n_part[0] % 2].payments.refund(
                        shop, paid["id"], amount=n_part[1], merchant_refund_no=f"P{next(numbers)}"
                    ),
                    enumerate(parts),
                )
            )
        assert_in_proportion(platform, paid["id"], fee, subsidy, amount)
    if sum(map(sum, rounds)) == amount:
        assert returned(platform, paid["id"]) == (amount, fee, subsidy)


@pytest.mark.parametrize(
    ("tamper", "undo", "says"),
    [
        (
            "UPDATE refunds SET fee_returned = fee_returned - 1 WHERE merchant_refund_no = 'T-2'",
            "UPDATE refunds SET fee_returned = fee_returned + 1 WHERE merchant_refund_no = 'T-2'",
            "of the fee, not its share 13",
        ),
        (
            "UPDATE refunds SET subsidy_returned = subsidy_returned + 1"
            " WHERE merchant_refund_no = 'T-1'",
            "UPDATE refunds SET subsidy_returned = subsidy_returned - 1"
            " WHERE merchant_refund_no = 'T-1'",
            "of the subsidy",
        ),
    ],
)
def test_ledger_check_names_a_payment_whose_refunds_returned_the_wrong_share(
    platform: Platform, db_url: str, tamper: str, undo: str, says: str
) -> None:
    from typer.testing import CliRunner

    from saoma.cli import app

    shop, paid = shop_paid(platform, 2_227)
    for n, part in enumerate((1_113, 1_114), start=1):
        platform.payments.refund(shop, paid["id"], amount=part, merchant_refund_no=f"T-{n}")

    def check() -> tuple[int, dict]:
        out = CliRunner().invoke(app, ["ledger", "check", "--json", "--database-url", db_url])
        return out.exit_code, json.loads(out.stdout)

    code, report = check()
    assert (code, report["ok"]) == (0, True)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(tamper))
        code, report = check()
        assert code == 1
        (problem,) = report["problems"]
        assert f"payment {paid['id']}" in problem and says in problem
    finally:
        with engine.begin() as conn:
            conn.execute(text(undo))
        engine.dispose()
