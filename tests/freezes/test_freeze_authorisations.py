"""check-authorisations and freezes: a normal world with a freeze passes; a wallet debit made
behind the service's back while the wallet is frozen is reported."""

from __future__ import annotations

import secrets

import pytest

from saoma.authorisations import check_authorisations
from saoma.bootstrap import Platform
from saoma.freezes.service import Doer
from saoma.ledger import Transfer, TransferCode
from support import PASSWORD, PIN, Wiring, funded_payer

SUPPORT = Doer("op_support", "support", "ticket T-1")


@pytest.fixture
def wiring() -> Wiring:
    """The books are checked at the end, not the authorisations: this test breaks one."""
    return Wiring(check_authorisations=False)


def test_check_authorisations_reports_a_debit_made_during_a_freeze(platform: Platform) -> None:
    payer = funded_payer(platform, 5_000)
    shop = platform.merchants.sign_up(
        login=f"shop-{secrets.token_hex(4)}@example.cn",
        password=PASSWORD,
        name="Noodles",
        city="SZ",
    )
    platform.payments.pay_static(payer, shop.id, amount=500, pin=PIN)
    platform.freezes.freeze(SUPPORT, "consumer", payer.id, "Stolen phone")
    assert check_authorisations(platform.engine) == []
    # Behind the service's back: straight into the ledger, no movement and no check.
    sneaked = Transfer(
        f"sneak-{payer.id}", payer.account_id, shop.account_id, 100, TransferCode.PAYMENT
    )
    platform.ledger.create_transfers([sneaked])
    problems = check_authorisations(platform.engine)
    assert any("while it was frozen" in p and sneaked.id in p for p in problems), problems
