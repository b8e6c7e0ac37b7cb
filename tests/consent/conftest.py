"""Helpers for the consent rules, which use the shared ``platform`` fixture (in this process over
each database) so a test can count what happens inside it (the PIN checks) while many threads
race its services."""

from __future__ import annotations

import itertools

import pytest

from saoma.bootstrap import Platform
from saoma.funding.bank import BankOutcome
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer
from support import Wiring, approved, server

__all__ = ["server"]

PIN = "246810"
PASSWORD = "correct horse battery"
_phones = itertools.count()
_shops = itertools.count()


@pytest.fixture
def wiring() -> Wiring:
    """The shared platform, checking the books only at the end: these tests write debits that
    break the authorisation rules on purpose, to see that the checks find them."""
    return Wiring(check_authorisations=False)


def wallet(p: Platform, balance: int, *, pin: str | None = PIN) -> Consumer:
    c = p.wallets.sign_up(f"+86137{next(_phones):08d}", PASSWORD)
    if pin:
        p.wallets.set_pin(c.id, pin, password=PASSWORD, old_pin=None)
    if balance:
        top = p.funding.top_up(c, balance)
        p.funding.settled(BankOutcome(top["id"], True, "T"))
    return p.wallets.get(c.id)


def shop(p: Platform) -> Merchant:
    return approved(
        p,
        p.merchants.sign_up(
            login=f"shop-{next(_shops)}@example.cn",
            password=PASSWORD,
            name="Old Chen Noodles",
            city="Shenzhen",
        ),
    )
