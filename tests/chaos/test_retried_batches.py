"""What the bank workload found, pinned down: a batch retried request by request after a failure.

The group commit applies many callers' transfers and their hooks (payment rows, the stored
response) in one transaction. When that transaction fails after the hooks ran (a hook of another
request refuses, or the connection is lost at COMMIT), every request is tried again alone. If,
in between, another server spent the wallet or took the hold, the retry is refused: the caller
must hear the refusal, not the success its first, rolled-back attempt had prepared. And when
the first attempt did commit (only its answer was lost), the retry finds its transfers there: the
caller must not hear a refusal of what was done.
"""

from __future__ import annotations

import secrets

import pytest

from saoma.api.problems import status_of
from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.ledger import Ledger, Result, Transfer, TransferCode
from saoma.merchants.service import Merchant
from saoma.movements import Refused
from saoma.payments.service import derived_id
from support import (
    PASSWORD,
    PIN,
    Wiring,
    funded_payer,
    lose_the_next_answer,
    lose_the_next_commit,
)


def _shop(platform: Platform, name: str) -> Merchant:
    return platform.merchants.sign_up(
        login=f"shop-{secrets.token_hex(3)}@example.cn", password=PASSWORD, name=name, city="SZ"
    )


@pytest.fixture
def wiring() -> Wiring:
    """The books are checked at the end, not the authorisations: "another server" here spends
    the wallet by a bare ledger transfer, with no payment record to rest on."""
    return Wiring(check_authorisations=False)


def test_a_payment_refused_on_its_retry_is_not_acknowledged(platform: Platform) -> None:
    shop = _shop(platform, "Retry")
    wallet = funded_payer(platform, 1_000)
    with Ledger(platform.engine) as elsewhere:  # another server's ledger over the same database

        def spend_it_all() -> None:
            elsewhere.create_transfers(
                [
                    Transfer(
                        "spent-elsewhere",
                        wallet.account_id,
                        shop.account_id,
                        1_000,
                        TransferCode.PAYMENT,
                    )
                ]
            )

        lose_the_next_commit(platform, spend_it_all)
        with pytest.raises(SaomaError) as refused:
            platform.payments.pay_static(wallet, shop.id, amount=600, pin=PIN)
    assert status_of(refused.value) == 402
    assert platform.wallets.balance(wallet)["balance"] == 0
    assert platform.payments.list_payments(consumer=wallet)["data"] == []


def test_a_void_refused_on_its_retry_is_not_acknowledged(platform: Platform) -> None:
    shop = _shop(platform, "Retry")
    wallet = funded_payer(platform, 1_000)
    hold = platform.payments.create_hold(
        shop, merchant_ref="H-1", amount=500, currency="CNY", expires_in_s=3600
    )
    platform.payments.consent_hold(wallet, hold["id"], pin=PIN)
    with Ledger(platform.engine) as elsewhere:

        def captured_elsewhere() -> None:
            elsewhere.post(derived_id("cap", hold["id"]), derived_id("hold", hold["id"]), 100)

        lose_the_next_commit(platform, captured_elsewhere)
        with pytest.raises(SaomaError) as refused:
            platform.payments.void_hold(shop, hold["id"])
    assert refused.value.slug == "hold-not-open"


def test_a_consent_whose_commit_went_unanswered_is_not_refused(platform: Platform) -> None:
    shop = _shop(platform, "Lost")
    wallet = funded_payer(platform, 1_000)
    hold = platform.payments.create_hold(
        shop, merchant_ref="H-2", amount=500, currency="CNY", expires_in_s=3600
    )
    lost = lose_the_next_answer(platform)
    held = platform.payments.consent_hold(wallet, hold["id"], pin=PIN)
    assert lost == [1]
    assert held["state"] == "held"
    assert platform.wallets.balance(wallet) == {"balance": 1_000, "available": 500, "held": 500}
    captured = platform.payments.capture_hold(shop, hold["id"], amount=500)
    assert captured["state"] == "captured"
    assert platform.wallets.balance(wallet) == {"balance": 500, "available": 500, "held": 0}


def test_an_order_payment_whose_commit_went_unanswered_is_paid_once(platform: Platform) -> None:
    shop = _shop(platform, "Lost")
    wallet = funded_payer(platform, 1_000)
    order, _ = platform.payments.create_order(
        shop, merchant_order_no="O-1", amount=300, currency="CNY", description="noodles"
    )
    lost = lose_the_next_answer(platform)
    paid = platform.payments.pay_order(wallet, order["id"], pin=PIN)
    assert lost == [1]
    assert paid["amount"] == 300
    assert platform.wallets.balance(wallet)["balance"] == 700
    listed = platform.payments.list_payments(consumer=wallet)["data"]
    assert [p["id"] for p in listed] == [paid["id"]]


def test_a_movement_whose_commit_went_unanswered_is_not_refused(platform: Platform) -> None:
    """Where a service cannot look the outcome up, its answer is "try again", not a refusal
    of what may be done: the retry, with the same key, learns it."""
    sender, payee = funded_payer(platform, 1_000), funded_payer(platform, 0)
    move = Transfer(
        f"t-{secrets.token_hex(4)}", sender.account_id, payee.account_id, 250, TransferCode.PAYMENT
    )
    lost = lose_the_next_answer(platform)
    moved = platform.payments.movements.move([move], lambda unit: None)
    assert lost == [1]
    assert isinstance(moved, Refused)
    assert moved.results == [Result.EXISTS]
    assert status_of(moved.problem()) == 503
    assert platform.wallets.balance(payee)["balance"] == 250  # moved once
