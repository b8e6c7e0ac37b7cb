"""Settlement tests: merchants with takings, bank accounts, splits, and settlement runs.

The runs are given the time they run at (a day after the payments, say), so a day's cut-off can
pass inside a test; the sandbox bank answers on its own timer thread, as a real bank would. Each
test gets a fresh database of each kind (see ``db_url``); when it ends the books must balance and
every wallet debit must rest on its payer's authorisation.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from saoma.bootstrap import Platform
from saoma.core.ids import now_us
from saoma.merchants.service import Merchant
from saoma.settlement import tables as t
from saoma.wallets.service import Consumer
from settlement.court import Court
from support import PASSWORD, PIN, approved, funded_payer, open_platform, server, wait_until

DAY_US = 86_400_000_000
GOOD_ACCOUNT = "6222021001118812"  # the sandbox bank verifies and pays it
FROZEN_ACCOUNT = "6222021001118866"  # verified, but the bank rejects payouts to it
_n = itertools.count()


@dataclass
class Town:
    """Merchants, payers and the settlement desk of one platform."""

    platform: Platform

    def shop(self, name: str = "Old Chen Noodles", account: str | None = GOOD_ACCOUNT) -> Merchant:
        merchant = self.platform.merchants.sign_up(
            login=f"shop-{secrets.token_hex(4)}@example.cn",
            password=PASSWORD,
            name=name,
            city="SZ",
        )
        approved(self.platform, merchant)
        if account is not None:
            self.bank_account(merchant, account)
        return merchant

    def bank_account(
        self, merchant: Merchant, number: str, pin: str | None = None
    ) -> dict[str, Any]:
        merchant = self.platform.merchants.get(merchant.id)
        added = self.platform.settlement.accounts.register(
            merchant, holder_name="Chen Jianguo", account_number=number, manager_pin=pin
        )
        wait_until(
            lambda: (
                self.platform.settlement.accounts.get(merchant, added["id"])["state"] != "verifying"
            ),
            what="the bank's verification",
        )
        return self.platform.settlement.accounts.get(merchant, added["id"])

    def payer(self, balance: int = 1_000_000) -> Consumer:
        return funded_payer(self.platform, balance)

    def pay(self, merchant: Merchant, payer: Consumer, amount: int) -> dict[str, Any]:
        return self.platform.payments.pay_static(payer, merchant.id, amount=amount, pin=PIN)

    def refund(self, merchant: Merchant, payment_id: str, amount: int) -> dict[str, Any]:
        return self.platform.payments.refund(
            merchant, payment_id, amount=amount, merchant_refund_no=f"R-{next(_n)}"
        )

    def run(self, days_later: float = 1) -> dict[str, int]:
        """A settlement run ``days_later`` days from now (a day's cut-off has passed)."""
        return self.platform.settlement.run(now_us() + int(days_later * DAY_US))

    def settlements(self, merchant: Merchant) -> list[dict[str, Any]]:
        return self.platform.settlement.statements.list(merchant, limit=100)["data"]

    def settled(self, merchant: Merchant, state: str = "paid") -> list[dict[str, Any]]:
        """Wait until every settlement of ``merchant`` has had the bank's answer."""
        wait_until(
            lambda: all(s["state"] != "paying" for s in self.settlements(merchant)),
            what="the bank's answer to the payouts",
        )
        return [s for s in self.settlements(merchant) if s["state"] == state]

    def own(self, merchant: Merchant) -> int:
        """The merchant's balance as its dashboard shows it."""
        return self.platform.merchants.balance(merchant)

    def account(self, account_id: int) -> Any:
        account = self.platform.ledger.account(account_id)
        assert account is not None
        return account

    def lines(self, settlement_id: str) -> list[Any]:
        with self.platform.engine.connect() as conn:
            return list(
                conn.execute(
                    t.settlement_lines.select().where(
                        t.settlement_lines.c.settlement_id == settlement_id
                    )
                )
            )


@pytest.fixture
def town(platform: Platform) -> Town:
    return Town(platform)


Pay = Callable[..., dict[str, Any]]
__all__ = ["DAY_US", "FROZEN_ACCOUNT", "GOOD_ACCOUNT", "PIN", "Town", "server"]


@pytest.fixture
def payer(platform: Platform) -> Callable[[int], Consumer]:
    """``payer(balance)``: a consumer with a PIN and ``balance`` fen in the wallet."""
    return lambda balance: funded_payer(platform, balance)


@pytest.fixture
def shop(platform: Platform) -> Callable[..., Merchant]:
    """``shop(name)``: a new merchant at the platform's fee rate."""

    def sign_up(name: str = "Old Chen Noodles") -> Merchant:
        return approved(
            platform,
            platform.merchants.sign_up(
                login=f"shop-{secrets.token_hex(4)}@example.cn",
                password=PASSWORD,
                name=name,
                city="Shenzhen",
            ),
        )

    return sign_up


@pytest.fixture
def other(db_url: str, platform: Platform) -> Iterator[Platform]:
    """A second process's services on the same database: races decided in the database."""
    second = open_platform(db_url)
    yield second
    second.close()


@pytest.fixture
def court(
    platform: Platform, shop: Callable[..., Merchant], payer: Callable[[int], Consumer]
) -> Callable[..., Court]:
    """``court(share_ppm=80_000, ...)``: a stall that gives the court a share, accepted."""

    def make(**terms: Any) -> Court:
        court, stall = shop("Futian Food Court"), shop("Old Chen Noodles")
        terms = {"share_ppm": 80_000} | terms
        proposed = platform.splits.propose(stall, court.id, **terms)
        agreement = platform.splits.accept(court, proposed["id"])
        return Court(platform, court, stall, agreement, payer(10_000_000))

    return make
