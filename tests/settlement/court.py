"""A food court and one of its stalls, for the split tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from saoma.bootstrap import Platform
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer
from support import PIN


@dataclass
class Court:
    """A food court, a stall paying it a share under an accepted agreement, and a payer."""

    platform: Platform
    court: Merchant
    stall: Merchant
    agreement: dict[str, Any]
    payer: Consumer

    def pay(self, amount: int) -> dict[str, Any]:
        return self.platform.payments.pay_static(self.payer, self.stall.id, amount=amount, pin=PIN)

    def balance(self, merchant: Merchant) -> int:
        return self.platform.merchants.balance(merchant)
