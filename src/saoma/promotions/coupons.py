"""Coupons: a consumer collects one for a campaign that needs it; a discounted payment uses it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.core.errors import CampaignEnded, not_found
from saoma.core.ids import now_us
from saoma.db import read, write
from saoma.promotions import tables as m
from saoma.wallets.service import Consumer


class Coupons:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self, consumer: Consumer, campaign_id: str) -> dict[str, Any]:
        """The consumer's coupon for this campaign; collecting it again changes nothing."""
        with read(self.engine) as conn:
            row = conn.execute(select(m.campaigns).where(m.campaigns.c.id == campaign_id)).first()
        if row is None or not row.needs_coupon:
            raise not_found("coupon campaign", campaign_id)
        if row.state != "active":
            raise CampaignEnded("this campaign is not running")
        with write(self.engine) as conn:
            exists = conn.execute(
                select(m.coupons.c.state).where(
                    m.coupons.c.campaign_id == campaign_id, m.coupons.c.consumer_id == consumer.id
                )
            ).first()
            if exists is None:
                conn.execute(
                    m.coupons.insert().values(
                        campaign_id=campaign_id,
                        consumer_id=consumer.id,
                        state="collected",
                        collected_at_us=now_us(),
                    )
                )
        return {
            "campaign_id": campaign_id,
            "name": row.name,
            "state": exists.state if exists else "collected",
        }

    def coupons_of(self, consumer: Consumer) -> list[dict[str, Any]]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(m.coupons.c.campaign_id, m.coupons.c.state, m.campaigns.c.name)
                .join(m.campaigns, m.campaigns.c.id == m.coupons.c.campaign_id)
                .where(m.coupons.c.consumer_id == consumer.id)
            ).all()
        return [{"campaign_id": r.campaign_id, "name": r.name, "state": r.state} for r in rows]
