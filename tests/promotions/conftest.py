"""The helpers of tests/p2p, shared by the promotions' service tests, and a shop with takings to
fund its campaigns (the platform fixture is the shared one, tests/conftest.py)."""

from __future__ import annotations

from p2p.conftest import PIN, shop, wallet
from saoma.bootstrap import Platform
from saoma.merchants.service import Merchant

__all__ = ["OFF", "with_takings"]

OFF = {"name": "¥1 off", "kind": "amount_off", "amount_off": 100, "budget": 1_000}


def with_takings(p: Platform, takings: int = 20_000) -> Merchant:
    noodles = shop(p)
    p.payments.pay_static(wallet(p, takings * 2), noodles.id, amount=takings, pin=PIN)
    return noodles
