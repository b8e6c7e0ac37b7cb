"""What every payments feature works with: the database, the ledger, the services it calls.

One :class:`Context` is shared by the features (orders, checkout, refunds, holds, charges,
queries) that :class:`saoma.payments.service.Payments` composes. Promotions and payment codes are
wired in after construction (they are built over the payments service), so the features read
them here when they need them rather than holding their own copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from saoma.ledger import Ledger
from saoma.merchants.service import Merchants
from saoma.movements import Movements
from saoma.wallets.service import Wallets

if TYPE_CHECKING:
    from saoma.paycode.service import PaymentCodes
    from saoma.promotions.service import Promotions


@dataclass
class Context:
    engine: Engine
    ledger: Ledger
    wallets: Wallets
    merchants: Merchants
    movements: Movements
    currency: str
    fees_account: int  # the platform's fee income in this currency
    bank_account: int  # bank clearing: where top-ups come from and withdrawals go
    promotions: Promotions | None = None
    paycodes: PaymentCodes | None = None
