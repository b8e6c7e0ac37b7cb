"""Fixtures for the consent rules: a platform in this process over each database, so a test can
count what happens inside it (the PIN checks) while many threads race its services."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from saoma.bank.connector import BankOutcome
from saoma.db import make_engine
from saoma.ledger.check import check_ledger
from saoma.merchants.service import Merchant
from saoma.platform import Platform
from saoma.wallets.service import Consumer
from support import server

__all__ = ["platform", "server"]

PIN = "246810"
PASSWORD = "correct horse battery"
_phones = itertools.count()
_shops = itertools.count()


@pytest.fixture
def platform(db_url: str) -> Iterator[Platform]:
    p = Platform.open(db_url, migrate_first=False)
    yield p
    p.close()
    engine = make_engine(db_url)
    try:
        report = check_ledger(engine)
        assert report.ok, report.problems
    finally:
        engine.dispose()


def wallet(p: Platform, balance: int, *, pin: str | None = PIN) -> Consumer:
    c = p.wallets.sign_up(f"+86137{next(_phones):08d}", PASSWORD)
    if pin:
        p.wallets.set_pin(c.id, pin, password=PASSWORD, old_pin=None)
    if balance:
        top = p.funding.top_up(c, balance)
        p.funding.settled(BankOutcome(top["id"], True, "T"))
    return p.wallets.get(c.id)


def shop(p: Platform) -> Merchant:
    return p.merchants.sign_up(
        login=f"shop-{next(_shops)}@example.cn",
        password=PASSWORD,
        name="Old Chen Noodles",
        city="Shenzhen",
    )
