"""Races: fifty requests at once on one dispute, from two platforms over one database (as two
server processes would be), on both kinds of database. Exactly one step wins; one refund at most
reaches the ledger."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.disputes.service import Deciding
from saoma.ledger import TransferCode
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer
from support import PIN, open_platform
from support_ops import signed_in_operator

Payer = Callable[[int], Consumer]
Shop = Callable[..., Merchant]
N = 50


@pytest.fixture
def other(db_url: str, platform: Platform) -> Iterator[Platform]:
    """A second platform over the same database: another server process's services."""
    del platform  # migrated and checked by the first
    second = open_platform(db_url)
    try:
        yield second
    finally:
        second.close()


def together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once; each result, or the error it raised."""
    gate = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        gate.wait()
        try:
            return call()
        except SaomaError as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def refunds_in_ledger(platform: Platform, payment_id: str) -> int:
    with platform.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT COUNT(*) FROM transfers WHERE ref = :p AND code = :c"),
                {"p": payment_id, "c": int(TransferCode.REFUND)},
            ).scalar_one()
        )


def disputed(platform: Platform, shop: Merchant, alice: Consumer, amount: int) -> dict[str, Any]:
    pay = platform.payments.pay_static(alice, shop.id, amount=amount, pin=PIN)
    return platform.disputes.open(alice, pay["id"], reason="not_received", text_="Never came")


def test_fifty_merchant_refunds_make_one(
    platform: Platform, other: Platform, payer: Payer, shop: Shop
) -> None:
    noodles, alice = shop(), payer(10_000)
    dispute = disputed(platform, noodles, alice, 2_000)
    sides = (platform, other)
    results = together(
        [
            lambda p=sides[i % 2]: p.disputes.merchant_refund(noodles, dispute["id"])
            for i in range(N)
        ]
    )
    assert all(isinstance(r, dict) and r["state"] == "refunded" for r in results), [
        repr(r) for r in results if not isinstance(r, dict) or r["state"] != "refunded"
    ]
    assert len({r["refund_id"] for r in results}) == 1
    assert refunds_in_ledger(platform, dispute["payment_id"]) == 1
    assert int(platform.wallets.balance(alice)["balance"]) == 10_000


def test_fifty_decisions_make_one(
    platform: Platform, other: Platform, payer: Payer, shop: Shop
) -> None:
    noodles, alice = shop(), payer(10_000)
    dispute = disputed(platform, noodles, alice, 2_000)
    platform.disputes.contest(noodles, dispute["id"], text_="Delivered at 12:10")
    user = signed_in_operator(platform.engine, "support")
    agent = Deciding(user.id, "support", "ticket 7")
    sides = (platform, other)
    results = together(
        [
            lambda i=i: sides[i % 2].disputes.decide(
                agent, dispute["id"], for_=("payer", "merchant")[i % 2], note=f"call {i}"
            )
            for i in range(N)
        ]
    )
    won = [r for r in results if isinstance(r, dict)]
    assert won and len({r["state"] for r in won}) == 1
    state = won[0]["state"]
    assert all(r.cause == "dispute-closed" for r in results if not isinstance(r, dict))
    view = platform.disputes.reads.view(platform.disputes.reads.row(dispute["id"]))
    assert [e["kind"] for e in view["timeline"]].count("decided") == 1
    moved = refunds_in_ledger(platform, dispute["payment_id"])
    assert moved == (1 if state == "decided_for_payer" else 0)
    with platform.engine.connect() as conn:
        decisions = conn.execute(
            text("SELECT COUNT(*) FROM audit_log WHERE action = 'dispute.decide'")
        ).scalar_one()
    assert decisions == 2  # one decision, audited for the payer and for the merchant


def test_refunds_and_contests_at_once_one_kind_wins(
    platform: Platform, other: Platform, payer: Payer, shop: Shop
) -> None:
    noodles, alice = shop(), payer(10_000)
    dispute = disputed(platform, noodles, alice, 2_000)
    sides = (platform, other)
    calls: list[Callable[[], Any]] = []
    for i in range(N):
        side = sides[i % 2]
        if i % 2:
            calls.append(lambda p=side: p.disputes.merchant_refund(noodles, dispute["id"]))
        else:
            calls.append(
                lambda p=side: p.disputes.contest(noodles, dispute["id"], text_="It was hot")
            )
    results = together(calls)
    won = {r["state"] for r in results if isinstance(r, dict)}
    assert len(won) == 1
    moved = refunds_in_ledger(platform, dispute["payment_id"])
    if won == {"refunded"}:
        assert moved == 1 and int(platform.wallets.balance(alice)["balance"]) == 10_000
    else:
        assert won == {"contested"} and moved == 0
    view = platform.disputes.reads.view(platform.disputes.reads.row(dispute["id"]))
    assert len(view["timeline"]) == 2  # opened, then the one answer that won
