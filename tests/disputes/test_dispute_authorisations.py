"""``saoma check-authorisations`` after disputes and freezes: a dispute refund debits the merchant
and credits the payer (no wallet debit to prove), a decision for the merchant moves nothing, a
refund still reaches a frozen wallet, and the payments before, around and after a freeze all rest
on the payer's PIN. The whole world passes with no problem."""

from __future__ import annotations

from collections.abc import Callable

from typer.testing import CliRunner

from saoma.authorisations import check_authorisations
from saoma.bootstrap import Platform
from saoma.cli import app
from saoma.disputes.service import Deciding
from saoma.freezes.service import Doer
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer
from support import PIN
from support_ops import signed_in_operator

Payer = Callable[[int], Consumer]
Shop = Callable[..., Merchant]


def disputed(platform: Platform, shop: Merchant, payer: Consumer, amount: int) -> str:
    paid = platform.payments.pay_static(payer, shop.id, amount=amount, pin=PIN)
    opened = platform.disputes.open(payer, paid["id"], reason="not_received", text_="Never came")
    return str(opened["id"])


def test_disputes_decided_both_ways_and_a_freeze_pass_check_authorisations(
    platform: Platform, db_url: str, payer: Payer, shop: Shop
) -> None:
    noodles = shop()
    alice, bob = payer(20_000), payer(5_000)
    support = signed_in_operator(platform.engine, "support")
    risk = signed_in_operator(platform.engine, "risk")
    deciding = Deciding(support.id, "support", "ticket 77")

    for_payer = disputed(platform, noodles, alice, 3_000)
    for_merchant = disputed(platform, noodles, alice, 2_000)
    refunded = disputed(platform, noodles, bob, 1_000)
    for dispute_id in (for_payer, for_merchant):
        platform.disputes.contest(noodles, dispute_id, text_="Delivered at noon")
    platform.disputes.merchant_refund(noodles, refunded)
    platform.disputes.decide(deciding, for_merchant, for_="merchant", note="Signed for")

    platform.freezes.freeze(Doer(support.id, "support", "ticket 78"), "consumer", alice.id, "Lost")
    platform.freezes.freeze(
        Doer(support.id, "support", "ticket 79"), "merchant", noodles.id, "Check"
    )
    # While both are frozen, the decision for the payer refunds her from the merchant.
    decided = platform.disputes.decide(deciding, for_payer, for_="payer", note="No proof")
    assert decided["state"] == "decided_for_payer"
    assert platform.wallets.balance(alice)["balance"] == 20_000 - 2_000
    platform.freezes.unfreeze(Doer(risk.id, "risk", "ticket 80"), "consumer", alice.id)
    platform.freezes.unfreeze(Doer(risk.id, "risk", "ticket 81"), "merchant", noodles.id)
    platform.payments.pay_static(alice, noodles.id, amount=500, pin=PIN)
    assert platform.wallets.balance(bob)["balance"] == 5_000

    assert check_authorisations(platform.engine) == []
    run = CliRunner().invoke(app, ["check-authorisations", "--database-url", db_url])
    assert run.exit_code == 0, run.output
    assert "every wallet debit rests on the payer's authorisation" in run.output
