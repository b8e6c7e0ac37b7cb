"""Split payments in process: merchants that share their takings, payers that pay them.

Each test gets a fresh database of each kind (see ``db_url``); when it ends the books must
balance and every wallet debit must rest on its payer's authorisation.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher

from saoma.bootstrap import Platform
from saoma.merchants.service import Merchant
from saoma.wallets import credentials
from saoma.wallets.service import Consumer
from settlement.court import Court
from support import PASSWORD, funded_payer, open_platform, server

__all__ = ["server"]


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords hashed at Argon2's lowest cost: these tests are about money."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(credentials, "password_hasher", cheap)


@pytest.fixture
def payer(platform: Platform) -> Callable[[int], Consumer]:
    """``payer(balance)``: a consumer with a PIN and ``balance`` fen in the wallet."""
    return lambda balance: funded_payer(platform, balance)


@pytest.fixture
def shop(platform: Platform) -> Callable[..., Merchant]:
    """``shop(name)``: a new merchant at the platform's fee rate."""

    def sign_up(name: str = "Old Chen Noodles") -> Merchant:
        return platform.merchants.sign_up(
            login=f"shop-{secrets.token_hex(4)}@example.cn",
            password=PASSWORD,
            name=name,
            city="Shenzhen",
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
