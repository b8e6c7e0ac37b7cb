"""Success bodies of coupons as the payer sees them: the shop, what it gives, the minimum
spend, until when, and the coupon's state. Never a campaign's budget nor its report.

Amounts are integers in the currency's minor unit; times are RFC 3339 in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from saoma.api.payments_out import MERCHANT, MerchantPublicOut
from saoma.api.responses import Listing, Out, example, sometimes

OFFER = {
    "campaign_id": "cmp_4d3c2b1a0f9e",
    "name": "¥3 off from ¥20",
    "kind": "spend_get",
    "merchant": MERCHANT,
    "amount_off": 300,
    "percent_ppm": 0,
    "cap": 0,
    "min_spend": 2000,
    "random_min": 0,
    "random_max": 0,
    "starts_at": "2026-11-24T03:00:00.000Z",
    "ends_at": "2026-12-31T16:00:00.000Z",
    "campaign_state": "active",
}
COUPON = OFFER | {"state": "collected", "collected_at": "2026-11-24T04:00:00.000Z"}


class _Offer(Out):
    campaign_id: str
    name: str = Field(description="The name payers see, as the shop wrote it.")
    kind: Literal["amount_off", "percent_off", "spend_get", "random"]
    merchant: MerchantPublicOut | None = Field(
        description="The shop it is for; null: a platform coupon for every shop."
    )
    amount_off: int
    percent_ppm: int = Field(description="Percentage off in parts per million (10% = 100000).")
    cap: int = Field(description="At most this much off a payment; 0: no cap.")
    min_spend: int = Field(description="The coupon applies from this amount; 0: any amount.")
    random_min: int
    random_max: int
    starts_at: datetime
    ends_at: datetime | None = Field(description="Null: no end date.")
    campaign_state: Literal["active", "paused", "ended"] = Field(
        description="`ended` also once the end date has passed."
    )


class CouponOfferOut(_Offer):
    """A coupon campaign's offer, read before collecting it, with the payer's own coupon."""

    model_config = example(OFFER | {"state": None})

    state: Literal["collected", "used"] | None = Field(
        description="Your coupon for it: null when not collected yet."
    )


class CouponOut(_Offer):
    """A coupon collected: it applies by itself at the best value when paying."""

    model_config = example(COUPON | {"already_collected": False})

    state: Literal["collected", "used"]
    collected_at: datetime
    already_collected: bool | SkipJsonSchema[None] = sometimes(
        description="Only when collecting: true when it was already in your coupons (nothing "
        "changed)."
    )


class CouponList(Listing[CouponOut]):
    model_config = example({"data": [COUPON]})
