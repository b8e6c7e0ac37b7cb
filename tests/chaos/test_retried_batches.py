"""What the bank workload found, pinned down: a batch retried request by request after a failure.

The group commit applies many callers' transfers and their hooks (payment rows, the stored
response) in one transaction. When that transaction fails after the hooks ran (a hook of another
request refuses, or the connection is lost at COMMIT), every request is tried again alone. If,
in between, another server spent the wallet or took the hold, the retry is refused: the caller
must hear the refusal, not the success its first, rolled-back attempt had prepared.
"""

from __future__ import annotations

import secrets

import pytest

from saoma.api.problems import status_of
from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.ledger import Ledger, Transfer, TransferCode
from saoma.payments.service import derived_id
from support import PASSWORD, PIN, Wiring, funded_payer, lose_the_next_commit


@pytest.fixture
def wiring() -> Wiring:
    """The books are checked at the end, not the authorisations: "another server" here spends
    the wallet by a bare ledger transfer, with no payment record to rest on."""
    return Wiring(check_authorisations=False)


def test_a_payment_refused_on_its_retry_is_not_acknowledged(platform: Platform) -> None:
    shop = platform.merchants.sign_up(
        login=f"shop-{secrets.token_hex(3)}@example.cn", password=PASSWORD, name="Retry", city="SZ"
    )
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
    shop = platform.merchants.sign_up(
        login=f"shop-{secrets.token_hex(3)}@example.cn", password=PASSWORD, name="Retry", city="SZ"
    )
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
