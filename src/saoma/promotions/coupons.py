"""Coupons: a consumer collects one for a campaign that needs it; a discounted payment uses it.

What a payer sees of a coupon campaign (its public offer) is the shop, what it gives, the
minimum spend and until when: never its budget nor its report.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from saoma.core.errors import CampaignEnded, not_found
from saoma.core.ids import now_us, rfc3339
from saoma.db import read, write
from saoma.merchants.tables import merchants
from saoma.promotions import tables as m
from saoma.wallets.service import Consumer

NO_END_US = 2**62  # the default end of a campaign: none
# One statement: a second collect (or fifty at once) finds the row and adds nothing.
COLLECT = text(
    "INSERT INTO coupons (consumer_id, campaign_id, state, collected_at_us)"
    " VALUES (:consumer, :campaign, 'collected', :now)"
    " ON CONFLICT (consumer_id, campaign_id) DO NOTHING"
)
_c = m.campaigns.c
_OFFER = (
    _c.id,
    _c.name,
    _c.kind,
    _c.state,
    _c.needs_coupon,
    _c.amount_off,
    _c.percent_ppm,
    _c.cap,
    _c.min_spend,
    _c.random_min,
    _c.random_max,
    _c.starts_at_us,
    _c.ends_at_us,
    merchants.c.id.label("m_id"),
    merchants.c.name.label("m_name"),
    merchants.c.name_zh.label("m_name_zh"),
    merchants.c.city.label("m_city"),
    merchants.c.category_code.label("m_category_code"),
    merchants.c.currency.label("m_currency"),
)


def campaign_state(row: Any, now: int) -> str:
    """``active``, ``paused`` or ``ended``: a campaign past its end date has ended for payers."""
    return "ended" if row.state == "ended" or now >= row.ends_at_us else str(row.state)


def public_offer(row: Any, now: int) -> dict[str, Any]:
    """What a payer may know of a coupon campaign: the shop, the offer, its dates."""
    merchant = None
    if row.m_id is not None:
        merchant = {
            "id": row.m_id,
            "name": row.m_name,
            "name_zh": row.m_name_zh,
            "city": row.m_city,
            "category_code": row.m_category_code,
            "currency": row.m_currency,
        }
    return {
        "campaign_id": row.id,
        "name": row.name,
        "kind": row.kind,
        "merchant": merchant,
        "amount_off": row.amount_off,
        "percent_ppm": row.percent_ppm,
        "cap": row.cap,
        "min_spend": row.min_spend,
        "random_min": row.random_min,
        "random_max": row.random_max,
        "starts_at": rfc3339(row.starts_at_us),
        "ends_at": None if row.ends_at_us >= NO_END_US else rfc3339(row.ends_at_us),
        "campaign_state": campaign_state(row, now),
    }


class Coupons:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _offer_row(self, campaign_id: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(
                select(*_OFFER)
                .select_from(m.campaigns.outerjoin(merchants, merchants.c.id == _c.merchant_id))
                .where(_c.id == campaign_id)
            ).first()

    def offer(self, consumer: Consumer, campaign_id: str) -> dict[str, Any]:
        """A coupon campaign as the payer sees it before collecting, and whether they hold it.

        Not found: no such campaign, one without coupons, or one that has ended."""
        row = self._offer_row(campaign_id)
        now = now_us()
        if row is None or not row.needs_coupon or campaign_state(row, now) == "ended":
            raise not_found("coupon", campaign_id)
        with read(self.engine) as conn:
            mine = conn.execute(
                select(m.coupons.c.state).where(
                    m.coupons.c.campaign_id == campaign_id, m.coupons.c.consumer_id == consumer.id
                )
            ).scalar()
        return public_offer(row, now) | {"state": mine}

    def collect(self, consumer: Consumer, campaign_id: str) -> dict[str, Any]:
        """The consumer's coupon for this campaign; collecting it again changes nothing and
        says so (``already_collected``)."""
        row = self._offer_row(campaign_id)
        if row is None or not row.needs_coupon:
            raise not_found("coupon campaign", campaign_id)
        now = now_us()
        if campaign_state(row, now) != "active":
            raise CampaignEnded("this campaign is not running")
        with write(self.engine) as conn:
            added = conn.execute(
                COLLECT, {"consumer": consumer.id, "campaign": campaign_id, "now": now}
            ).rowcount
            held = conn.execute(
                select(m.coupons.c.state, m.coupons.c.collected_at_us).where(
                    m.coupons.c.campaign_id == campaign_id, m.coupons.c.consumer_id == consumer.id
                )
            ).one()
        return public_offer(row, now) | {
            "state": held.state,
            "collected_at": rfc3339(held.collected_at_us),
            "already_collected": added != 1,
        }

    def coupons_of(self, consumer: Consumer) -> list[dict[str, Any]]:
        """The consumer's coupons, the last collected first, each with its offer and dates."""
        with read(self.engine) as conn:
            rows = conn.execute(
                select(*_OFFER, m.coupons.c.state.label("mine"), m.coupons.c.collected_at_us)
                .select_from(
                    m.coupons.join(m.campaigns, _c.id == m.coupons.c.campaign_id).outerjoin(
                        merchants, merchants.c.id == _c.merchant_id
                    )
                )
                .where(m.coupons.c.consumer_id == consumer.id)
                .order_by(m.coupons.c.collected_at_us.desc(), _c.id)
            ).all()
        now = now_us()
        return [
            public_offer(r, now) | {"state": r.mine, "collected_at": rfc3339(r.collected_at_us)}
            for r in rows
        ]
