"""The platform fixture and helpers of tests/p2p, shared by the promotions' service tests, and a
shop with takings to fund its campaigns."""

from __future__ import annotations

from p2p.conftest import PIN, platform, shop, wallet
from saoma.bootstrap import Platform
from saoma.merchants.service import Merchant

__all__ = ["OFF", "platform", "with_takings"]

OFF = {"name": "¥1 off", "kind": "amount_off", "amount_off": 100, "budget": 1_000}


def with_takings(p: Platform, takings: int = 20_000) -> Merchant:
    noodles = shop(p)
    p.payments.pay_static(wallet(p, takings * 2), noodles.id, amount=takings, pin=PIN)
    return noodles
