"""Disputes through the service: open, refund, contest, decide, deadline; money moves only as a
refund from the merchant to the payer."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.db import write
from saoma.disputes.photos import check_photo
from saoma.disputes.service import Deciding
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer
from support import PIN
from support_ops import signed_in_operator

from .conftest import jpeg_b64

Payer = Callable[[int], Consumer]
Shop = Callable[..., Merchant]


def wallet(platform: Platform, consumer: Consumer) -> int:
    return int(platform.wallets.balance(consumer)["balance"])


def held(platform: Platform, merchant: Merchant) -> int:
    account = platform.ledger.account(merchant.account_id)
    assert account is not None
    return int(account.balance)


def paid(platform: Platform, shop: Merchant, payer: Consumer, amount: int) -> dict[str, Any]:
    return platform.payments.pay_static(payer, shop.id, amount=amount, pin=PIN)


def support(platform: Platform, role: str = "support") -> Deciding:
    user = signed_in_operator(platform.engine, role)
    return Deciding(user.id, role, "ticket 42")


def outbox(platform: Platform, payment_id: str) -> list[str]:
    with platform.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT type FROM outbox WHERE subject = :s AND type LIKE 'dispute.%' ORDER BY seq"
            ),
            {"s": payment_id},
        ).all()
    return [r.type for r in rows]


def audit(platform: Platform) -> list[tuple[str, str, str]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, subject_kind, subject_id FROM audit_log ORDER BY seq")
        ).all()
    return [(r.action, r.subject_kind, r.subject_id) for r in rows]


def test_open_only_your_own_payment_once(platform: Platform, payer: Payer, shop: Shop) -> None:
    noodles, alice, bob = shop(), payer(10_000), payer(0)
    pay = paid(platform, noodles, alice, 2_000)
    with pytest.raises(SaomaError) as hidden:
        platform.disputes.open(bob, pay["id"], reason="other", text_="not mine")
    assert hidden.value.slug == "not-found"
    photo = check_photo("image/jpeg", jpeg_b64())
    opened = platform.disputes.open(
        alice, pay["id"], reason="not_as_described", text_="Cold.\nHalf empty.", photo=photo
    )
    assert (opened["state"], opened["amount"], opened["merchant_name"]) == (
        "open",
        2_000,
        "Old Chen Noodles",
    )
    assert [(e["actor"], e["kind"]) for e in opened["timeline"]] == [("payer", "opened")]
    assert opened["timeline"][0]["file_id"].startswith("df_")
    with pytest.raises(SaomaError) as twice:
        platform.disputes.open(alice, pay["id"], reason="other", text_="again")
    assert (twice.value.slug, twice.value.cause) == ("dispute-refused", "dispute-exists")
    for reason, body, field in (("angry", "x", "reason"), ("other", "  ", "text")):
        other = paid(platform, noodles, alice, 100)
        with pytest.raises(SaomaError) as bad:
            platform.disputes.open(alice, other["id"], reason=reason, text_=body)
        assert (bad.value.slug, bad.value.field) == ("invalid-request", field)
    assert outbox(platform, pay["id"]) == ["dispute.opened"]


def test_photos_are_checked_by_their_bytes() -> None:
    assert check_photo("image/jpeg", jpeg_b64()).data.startswith(b"\xff\xd8\xff")
    assert b"Camera maker" not in check_photo("image/jpeg", jpeg_b64()).data
    bad = (
        ("image/jpeg", base64.b64encode(b"GIF89a....").decode()),
        ("image/png", jpeg_b64()),
        ("image/jpeg", "%%%not base64"),
        ("image/jpeg", base64.b64encode(b"\xff\xd8\xff" + b"\0" * 100).decode()),
    )
    for content_type, data in bad:
        with pytest.raises(SaomaError) as refused:
            check_photo(content_type, data)
        assert refused.value.field == "photo.data"


def test_the_merchant_refunds_what_was_paid(platform: Platform, payer: Payer, shop: Shop) -> None:
    noodles, alice = shop(), payer(10_000)
    pay = paid(platform, noodles, alice, 2_000)
    opened = platform.disputes.open(alice, pay["id"], reason="not_received", text_="Never came")
    before = held(platform, noodles)
    done = platform.disputes.merchant_refund(noodles, opened["id"])
    assert (done["state"], done["refund_id"] is not None) == ("refunded", True)
    assert wallet(platform, alice) == 10_000
    assert held(platform, noodles) == before - 2_000 + 12  # the fee comes back with it
    again = platform.disputes.merchant_refund(noodles, opened["id"])  # a retry refunds nothing
    assert again["refund_id"] == done["refund_id"] and wallet(platform, alice) == 10_000
    assert outbox(platform, pay["id"]) == ["dispute.opened", "dispute.refunded"]
    with pytest.raises(SaomaError) as late:
        platform.disputes.contest(noodles, opened["id"], text_="too late")
    assert late.value.cause == "dispute-closed"


def test_a_discounted_payment_gives_back_what_the_payer_paid(
    platform: Platform, payer: Payer, shop: Shop
) -> None:
    noodles, regular, alice = shop(), payer(50_000), payer(10_000)
    paid(platform, noodles, regular, 20_000)  # takings to fund the campaign from
    platform.promotions.create(
        noodles, {"name": "3 off", "kind": "percent_off", "percent_ppm": 100_000, "budget": 900}
    )
    offer = platform.promotions.quote(alice, noodles.id, 3_000, "static:3000")
    assert offer is not None
    pay = platform.payments.pay_static(
        alice, noodles.id, amount=3_000, pin=PIN, offer_id=offer["offer_id"]
    )
    assert (pay["discount"], pay["paid"]) == (300, 2_700)
    with pytest.raises(SaomaError) as too_much:
        platform.disputes.open(alice, pay["id"], reason="other", text_="all", amount=3_000)
    assert too_much.value.field == "amount"
    opened = platform.disputes.open(alice, pay["id"], reason="other", text_="Wrong dish")
    assert opened["amount"] == 2_700
    platform.disputes.merchant_refund(noodles, opened["id"])
    assert wallet(platform, alice) == 10_000


def test_contested_then_support_decides_for_the_payer(
    platform: Platform, payer: Payer, shop: Shop
) -> None:
    noodles, alice = shop(), payer(10_000)
    pay = paid(platform, noodles, alice, 1_500)
    opened = platform.disputes.open(alice, pay["id"], reason="not_as_described", text_="Cold")
    photo = check_photo("image/jpeg", jpeg_b64("blue"))
    contested = platform.disputes.contest(noodles, opened["id"], text_="It was hot", photo=photo)
    assert contested["state"] == "contested"
    with pytest.raises(SaomaError):
        platform.disputes.merchant_refund(noodles, opened["id"])  # the answer was given
    agent = support(platform)
    decided = platform.disputes.decide(agent, opened["id"], for_="payer", note="Photo unclear")
    assert (decided["state"], decided["decision"]) == ("decided_for_payer", "payer")
    assert wallet(platform, alice) == 10_000
    kinds = [(e["actor"], e["kind"]) for e in decided["timeline"]]
    assert kinds == [("payer", "opened"), ("merchant", "contested"), ("support", "decided")]
    assert audit(platform) == [
        ("dispute.decide", "consumer", alice.id),
        ("dispute.decide", "merchant", noodles.id),
    ]
    assert outbox(platform, pay["id"])[-1] == "dispute.decided"


def test_a_decision_for_the_merchant_moves_no_money(
    platform: Platform, payer: Payer, shop: Shop
) -> None:
    noodles, alice = shop(), payer(10_000)
    pay = paid(platform, noodles, alice, 1_500)
    opened = platform.disputes.open(alice, pay["id"], reason="charged_twice", text_="Twice?")
    platform.disputes.contest(noodles, opened["id"], text_="Once: see the statement")
    before = (wallet(platform, alice), held(platform, noodles))
    with pytest.raises(SaomaError):
        platform.disputes.decide(support(platform), opened["id"], for_="judge", note="x")
    decided = platform.disputes.decide(
        support(platform), opened["id"], for_="merchant", note="One charge only"
    )
    assert (decided["state"], decided["refund_id"]) == ("decided_for_merchant", None)
    assert (wallet(platform, alice), held(platform, noodles)) == before
    with pytest.raises(SaomaError):
        platform.disputes.withdraw(alice, opened["id"])


def test_unanswered_disputes_go_to_support(platform: Platform, payer: Payer, shop: Shop) -> None:
    noodles, alice = shop(), payer(10_000)
    due = platform.disputes.open(
        alice, paid(platform, noodles, alice, 500)["id"], reason="other", text_="Hello?"
    )
    fresh = platform.disputes.open(
        alice, paid(platform, noodles, alice, 600)["id"], reason="other", text_="Hi"
    )
    with write(platform.engine) as conn:  # the answer time has passed
        conn.execute(text("UPDATE disputes SET answer_by_us = 1 WHERE id = :id"), {"id": due["id"]})
    with pytest.raises(SaomaError) as late:
        platform.disputes.contest(noodles, due["id"], text_="Sorry, late")
    assert late.value.cause == "answer-too-late"
    assert platform.disputes.escalate_due() == 1
    assert platform.disputes.escalate_due() == 0
    seen = platform.disputes.reads.view(platform.disputes.reads.row(due["id"]))
    assert seen["state"] == "escalated"
    assert seen["timeline"][-1]["actor"] == "system"
    assert platform.disputes.reads.row(fresh["id"]).state == "open"
    decided = platform.disputes.decide(support(platform), due["id"], for_="payer", note="No answer")
    assert decided["state"] == "decided_for_payer"


def test_the_payer_withdraws(platform: Platform, payer: Payer, shop: Shop) -> None:
    noodles, alice = shop(), payer(10_000)
    pay = paid(platform, noodles, alice, 500)
    opened = platform.disputes.open(alice, pay["id"], reason="other", text_="Found it")
    assert platform.disputes.withdraw(alice, opened["id"])["state"] == "withdrawn"
    with pytest.raises(SaomaError):
        platform.disputes.merchant_refund(noodles, opened["id"])
    assert wallet(platform, alice) == 9_500
    assert outbox(platform, pay["id"]) == ["dispute.opened", "dispute.withdrawn"]
