"""Campaigns with their own budget accounts, offers quoted at preview, applied at confirmation.

``Promotions`` is the one door the API, the pages and checkout use; the features live in
:mod:`~saoma.promotions.campaigns` (making, pausing, ending, reports),
:mod:`~saoma.promotions.coupons`, :mod:`~saoma.promotions.offers` (quoting and verifying) and
:mod:`~saoma.promotions.usage` (a payment's use, in its unit of work), over this process's
:mod:`~saoma.promotions.catalogue` of active campaigns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.core.errors import SaomaError
from saoma.db import read
from saoma.ledger import Transfer
from saoma.merchants.service import Merchant
from saoma.movements import Unit
from saoma.payments.idempotency import Claim
from saoma.promotions.campaigns import PLATFORM, UNLIMITED, Campaigns
from saoma.promotions.catalogue import CACHE_TTL_S, STALE_LIMIT_S, Catalogue
from saoma.promotions.coupons import Coupons
from saoma.promotions.offers import OFFER_TTL_US, Offers, history_query
from saoma.promotions.rules import Campaign, Context
from saoma.promotions.tables import campaigns
from saoma.promotions.usage import TakenOffer, Usage, shenzhen_day
from saoma.wallets.service import Consumer

__all__ = [
    "CACHE_TTL_S",
    "OFFER_TTL_US",
    "PLATFORM",
    "STALE_LIMIT_S",
    "UNLIMITED",
    "Promotions",
    "TakenOffer",
    "history_query",
    "shenzhen_day",
]


class Promotions:
    def __init__(self, engine: Engine, payments: Any) -> None:
        self.engine = engine
        self.payments = payments
        self.ledger = payments.ledger
        self.currency: str = payments.currency
        self.catalogue = Catalogue(engine)
        self.campaigns = Campaigns(engine, payments, self.catalogue)
        self.coupons = Coupons(engine)
        self.usage = Usage(self.catalogue)
        self.offers = Offers(engine, self.catalogue, self.usage)

    # --- managing campaigns ----------------------------------------------------------------------

    def create(
        self, funder: Merchant | None, spec: dict[str, Any], *, claim: Claim | None = None
    ) -> dict[str, Any]:
        """A campaign funded by a merchant (its settlement account) or by the platform (fees)."""
        return self.campaigns.create(funder, spec, claim=claim)

    def get(self, funder: Merchant | None, campaign_id: str) -> dict[str, Any]:
        """The campaign and its report: uses, subsidy paid, sales it came with, budget left."""
        return self.campaigns.get(funder, campaign_id)

    def of_funder(self, funder: Merchant | None) -> list[dict[str, Any]]:
        return self.campaigns.of_funder(funder)

    def set_state(self, funder: Merchant | None, campaign_id: str, state: str) -> dict[str, Any]:
        """Pause, resume or end: no new discount from this instant; ending returns the budget."""
        return self.campaigns.set_state(funder, campaign_id, state)

    # --- coupons ---------------------------------------------------------------------------------

    def coupon_offer(self, consumer: Consumer, campaign_id: str) -> dict[str, Any]:
        """A coupon campaign's public offer, with the consumer's coupon for it if any."""
        return self.coupons.offer(consumer, campaign_id)

    def collect(self, consumer: Consumer, campaign_id: str) -> dict[str, Any]:
        return self.coupons.collect(consumer, campaign_id)

    def coupons_of(self, consumer: Consumer) -> list[dict[str, Any]]:
        return self.coupons.coupons_of(consumer)

    # --- offers ----------------------------------------------------------------------------------

    def active(self) -> dict[str | None, list[Campaign]]:
        """Active campaigns by merchant (None: platform-wide), read again every second."""
        return self.catalogue.active()

    def context(
        self, consumer: Consumer, merchant_id: str, amount: int, candidates: list[Campaign]
    ) -> Context:
        """The payer's history that the candidates' rules ask about, in one round trip."""
        return self.offers.context(consumer, merchant_id, amount, candidates)

    def quote(
        self, consumer: Consumer, merchant_id: str, amount: int, subject: str
    ) -> dict[str, Any] | None:
        """The best offer for this payment, held for five minutes; None when nothing applies."""
        return self.offers.quote(consumer, merchant_id, amount, subject)

    def take(
        self, consumer: Consumer, offer_id: str, merchant_id: str, amount: int, subject: str
    ) -> TakenOffer:
        """The quoted offer a payment uses, if it still matches this payment."""
        return self.offers.take(consumer, offer_id, merchant_id, amount, subject)

    def unavailable(self) -> SaomaError:
        """The refusal when an offer cannot be honoured; the next quote reads fresh totals."""
        return self.usage.unavailable()

    # --- a payment's use -------------------------------------------------------------------------

    def subsidy_home(self, campaign_id: str) -> int:
        """Where a refunded subsidy goes: the campaign's budget, or its funder once it ended."""
        with read(self.engine) as conn:
            row = conn.execute(
                select(
                    campaigns.c.state, campaigns.c.budget_account_id, campaigns.c.funder_account_id
                ).where(campaigns.c.id == campaign_id)
            ).one()
        return int(row.funder_account_id if row.state == "ended" else row.budget_account_id)

    def subsidy_transfer(
        self, offer: Any, transfer_id: str, merchant_account: int, ref: str
    ) -> Transfer:
        return self.usage.subsidy_transfer(offer, transfer_id, merchant_account, ref)

    def record_use(self, unit: Unit, offer: Any, consumer: Consumer, now: int) -> None:
        """In the payment's unit of work: every count and state checked, or the payment aborts;
        this process's totals learn of the use once it commits."""
        self.usage.record_use(unit, offer, consumer, now)
