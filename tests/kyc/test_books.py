"""The platform's books equal the ledger's balances after payments, a campaign, a red packet."""

from __future__ import annotations

import secrets

from saoma.bootstrap import Platform
from saoma.operators.books import Books
from support import PASSWORD, PIN, approved, funded_payer


def test_the_books_equal_the_ledger(platform: Platform) -> None:
    p = platform
    shop = approved(
        p,
        p.merchants.sign_up(
            login=f"shop-{secrets.token_hex(4)}@example.cn",
            password=PASSWORD,
            name="Old Chen Noodles",
            city="Shenzhen",
        ),
    )
    payer = funded_payer(p, 500_000)
    for amount in (100_000, 2_500, 3_860):
        p.payments.pay_static(payer, shop.id, amount=amount, pin=PIN)
    campaign = p.promotions.create(
        shop, {"name": "¥5 off", "kind": "amount_off", "amount_off": 500, "budget": 20_000}
    )
    offer = p.promotions.quote(payer, shop.id, 3_000, "static:3000")
    assert offer is not None
    p.payments.pay_static(payer, shop.id, amount=3_000, pin=PIN, offer_id=offer["offer_id"])
    p.people.create_packet(payer, amount=888, shares=3, mode="equal", pin=PIN)

    books = Books(p.engine, "CNY").view()
    ledger = p.ledger
    fees = ledger.account(p.payments.fees_account)
    assert fees is not None
    assert books["fees"]["income"] == fees.credits_posted - fees.debits_posted > 0
    bank = ledger.account(p.payments.bank_account)
    assert bank is not None
    assert books["clearing"]["bank_clearing"] == bank.debits_posted - bank.credits_posted == 500_000
    (mine,) = [c for c in books["campaigns"] if c["campaign_id"] == campaign["id"]]
    assert (mine["funder"], mine["budget"], mine["spent"]) == (shop.id, 20_000, 500)
    assert mine["budget_left"] == 19_500
    assert books["red_packets_outstanding"] == 888
    assert books["reconciliation_breaks_open"] == 0
