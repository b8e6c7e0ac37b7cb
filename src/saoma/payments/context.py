"""What every payments feature works with: the database, the ledger, the services it calls.

One :class:`Context` is shared by the features (orders, checkout, refunds, holds, charges,
queries) that :class:`saoma.payments.service.Payments` composes. Promotions and payment codes are
wired in after construction (they are built over the payments service), so the features read
them here when they need them rather than holding their own copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from saoma.ledger import Ledger
from saoma.ledger.tx import Tx
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
    # Called in the record hook of every payment into a merchant with (tx, merchant id,
    # amount): the onboarding's limit while the merchant's details are not approved.
    admit: Callable[[Tx, str, int], None] | None = None
