"""A payment using an offer: the campaign's subsidy and the use, counted in the payment's unit.

Counts (in total, per consumer per day, per consumer in all) are kept in rows updated with a
condition inside the payment's own transaction, so a limit is never exceeded. This process's
cache of totals is adjusted only after that transaction commits, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from saoma.core.errors import OfferUnavailable, SaomaError
from saoma.ledger import Transfer, TransferCode
from saoma.movements import Unit
from saoma.promotions.campaigns import UNLIMITED
from saoma.promotions.catalogue import Catalogue
from saoma.promotions.rules import SHANGHAI
from saoma.wallets.service import Consumer

RECORD_OFFER = (
    "INSERT INTO offers (id, campaign_id, consumer_id, merchant_id, subject, amount,"
    " discount, state, expires_at_us) VALUES (:id, :cid, :consumer, :merchant, :subject,"
    " :amount, :discount, 'used', :expires) ON CONFLICT (id) DO NOTHING"
)
COUNT_USE = (
    "UPDATE campaigns SET used_count = used_count + 1, used_amount = used_amount + :off"
    " WHERE id = :id AND state = 'active'"
    " AND (total_count = 0 OR used_count < total_count)"
)
COUNT_CONSUMER_USE = (
    "INSERT INTO campaign_usage (campaign_id, consumer_id, period, count)"
    " VALUES (:cid, :consumer, :period, 1)"
    " ON CONFLICT (consumer_id, campaign_id, period) DO UPDATE"
    " SET count = campaign_usage.count + 1 WHERE campaign_usage.count < :limit"
)
SPEND_COUPON = (
    "UPDATE coupons SET state = 'used' WHERE campaign_id = :cid"
    " AND consumer_id = :consumer AND state = 'collected'"
)


def shenzhen_day(at_us: int) -> str:
    return datetime.fromtimestamp(at_us / 1_000_000, SHANGHAI).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class TakenOffer:
    """A verified offer on its way into a payment."""

    id: str
    campaign_id: str
    discount: int
    budget_account_id: int
    needs_coupon: bool
    per_consumer_per_day: int
    per_consumer_total: int
    expires_at_us: int
    merchant_id: str
    subject: str
    amount: int


class Usage:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def unavailable(self) -> SaomaError:
        """The refusal when an offer cannot be honoured; the next quote reads fresh totals."""
        self.catalogue.invalidate()
        return OfferUnavailable(
            "the discount is no longer available: review the new price and confirm again",
            field="offer_id",
        )

    @staticmethod
    def subsidy_transfer(
        offer: TakenOffer, transfer_id: str, merchant_account: int, ref: str
    ) -> Transfer:
        """The campaign's part of the payment ``transfer_id``, from its budget to the merchant."""
        return Transfer(
            "sub" + transfer_id[3:],
            offer.budget_account_id,
            merchant_account,
            offer.discount,
            TransferCode.SUBSIDY,
            ref=ref,
        )

    def record_use(self, unit: Unit, offer: TakenOffer, consumer: Consumer, now: int) -> None:
        """In the payment's unit: every count and state checked, or the payment aborts.

        The cache of totals learns of the use after the commit (:meth:`Unit.after`): the ledger
        may run this more than once for one payment.
        """
        used = unit.execute(
            RECORD_OFFER,
            {
                "id": offer.id,
                "cid": offer.campaign_id,
                "consumer": consumer.id,
                "merchant": offer.merchant_id,
                "subject": offer.subject,
                "amount": offer.amount,
                "discount": offer.discount,
                "expires": offer.expires_at_us,
            },
        )
        if offer.expires_at_us <= now:
            raise self.unavailable()
        counted = unit.execute(COUNT_USE, {"off": offer.discount, "id": offer.campaign_id})
        if used.rowcount != 1 or counted.rowcount != 1:
            raise self.unavailable()
        self._count_consumer_use(unit, offer, consumer, now)
        if offer.needs_coupon:
            spent = unit.execute(SPEND_COUPON, {"cid": offer.campaign_id, "consumer": consumer.id})
            if spent.rowcount != 1:
                raise self.unavailable()
        unit.after(lambda: self.catalogue.note_use(offer.campaign_id, offer.discount))

    def _count_consumer_use(
        self, unit: Unit, offer: TakenOffer, consumer: Consumer, now: int
    ) -> None:
        for period, limit in (
            (shenzhen_day(now), offer.per_consumer_per_day),
            ("all", offer.per_consumer_total),
        ):
            upsert = unit.execute(
                COUNT_CONSUMER_USE,
                {
                    "cid": offer.campaign_id,
                    "consumer": consumer.id,
                    "period": period,
                    "limit": limit or UNLIMITED,
                },
            )
            if upsert.rowcount != 1:
                raise self.unavailable()
