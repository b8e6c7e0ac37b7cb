"""In-process payments tests: one Platform over the test's database, no HTTP server.

Each test gets a fresh database of each kind (see ``db_url``); when it ends the books must
balance and every wallet debit must rest on its payer's authorisation.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from saoma.bootstrap import Platform
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer
from support import PASSWORD, approved, funded_payer

_phones = itertools.count()


@pytest.fixture
def payer(platform: Platform) -> Callable[[int], Consumer]:
    """``payer(balance)``: a consumer with a PIN and ``balance`` fen in the wallet."""
    return lambda balance: funded_payer(platform, balance)


@pytest.fixture
def shop(platform: Platform) -> Callable[..., Merchant]:
    """``shop(name=...)``: a merchant at the platform's fee rate."""

    def sign_up(name: str = "Old Chen Noodles") -> Merchant:
        return approved(
            platform,
            platform.merchants.sign_up(
                login=f"shop-{secrets.token_hex(4)}@example.cn",
                password=PASSWORD,
                name=name,
                city="SZ",
            ),
        )

    return sign_up


@dataclass
class Balances:
    """The balances a user would look at, in fen."""

    platform: Platform

    def wallet(self, consumer: Consumer) -> int:
        return int(self.platform.wallets.balance(consumer)["balance"])

    def merchant(self, merchant: Merchant) -> int:
        account = self.platform.ledger.account(merchant.account_id)
        assert account is not None
        return account.balance

    def fees(self) -> int:
        account = self.platform.ledger.account(self.platform.payments.fees_account)
        assert account is not None
        return account.balance


@pytest.fixture
def balances(platform: Platform) -> Balances:
    return Balances(platform)
