"""Success bodies of money between people (transfers, red packets) and of promotions.

Amounts are integers in the currency's minor unit; times are RFC 3339 in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from saoma.api.responses import Listing, Out, Page, example, sometimes

TRANSFER = {
    "id": "tr_8e7d6c5b4a39",
    "sender_id": "c_2a3b4c5d6e7f",
    "recipient_id": "c_9f8e7d6c5b4a",
    "amount": 5000,
    "currency": "CNY",
    "note": "dinner",
    "state": "done",
    "created_at": "2026-11-24T11:30:00.000Z",
    "direction": "out",
}
PACKET = {
    "id": "rp_4a5b6c7d8e9f",
    "from": "Li Wei",
    "greeting": "恭喜发财",
    "amount": 8800,
    "currency": "CNY",
    "shares": 10,
    "mode": "random",
    "claimed": 1,
    "state": "open",
    "claims": [
        {
            "name": "Wang Fang",
            "amount": 1234,
            "claimed_at": "2026-11-24T12:00:01.500Z",
            "mine": True,
        }
    ],
    "luckiest": None,
    "returned": 0,
    "expires_at": "2026-11-25T12:00:00.000Z",
    "link": "/p/rp_4a5b6c7d8e9f",
    "claim_url": "/v1/red-packets/rp_4a5b6c7d8e9f/claim",
}
CAMPAIGN = {
    "id": "cmp_4d3c2b1a0f9e",
    "name": "Lunch ¥5 off",
    "kind": "amount_off",
    "state": "active",
    "merchant_id": "m_8f3a2c1d9e7b",
    "funder": "m_8f3a2c1d9e7b",
    "budget": 50_000,
    "budget_left": 49_500,
    "used_count": 1,
    "subsidy_paid": 500,
    "sales_with_discount": 2500,
    "returned_to_funder": 0,
    "amount_off": 500,
    "percent_ppm": 0,
    "cap": 0,
    "min_spend": 0,
    "random_min": 0,
    "random_max": 0,
    "first_payment_only": False,
    "window_start_min": 0,
    "window_end_min": 1440,
    "per_consumer_per_day": 0,
    "per_consumer_total": 0,
    "total_count": 0,
    "needs_coupon": False,
    "created_at": "2026-11-24T03:00:00.000Z",
}


class TransferOut(Out):
    """Money sent to a person; to a phone or e-mail with no wallet yet it is `waiting` until
    `returns_at`."""

    model_config = example(TRANSFER)

    id: str
    sender_id: str
    recipient_id: str | None
    amount: int
    currency: str
    note: str
    state: Literal["done", "waiting", "claimed", "returned"]
    created_at: datetime
    returns_at: datetime | SkipJsonSchema[None] = sometimes(description="While waiting.")
    direction: Literal["in", "out"]


class RecipientOut(Out):
    """Who would get money sent to `to`: their name masked as receipts show it."""

    model_config = example({"to": "+8613800000002", "name": "*敏"})

    to: str = Field(description="What the sender typed: a wallet id, a phone or an e-mail.")
    name: str = Field(description="The recipient's name masked (`*敏`, `*Wei`), or their login.")


class TransferPage(Page[TransferOut]):
    model_config = example({"data": [TRANSFER], "next_cursor": None})


class ShareOut(Out):
    name: str
    amount: int
    claimed_at: datetime
    mine: bool


class RedPacketOut(Out):
    """A red packet as anyone with its link sees it: who got how much, and the luckiest."""

    model_config = example(PACKET)

    id: str
    from_: str = Field(alias="from", description="The sender's display name.")
    greeting: str
    amount: int
    currency: str
    shares: int
    mode: Literal["equal", "random"]
    claimed: int
    state: Literal["open", "emptied", "expired"]
    claims: list[ShareOut]
    luckiest: str | None = Field(description="Once every share is taken or the packet closed.")
    returned: int
    expires_at: datetime
    link: str
    claim_url: str


class ClaimedOut(Out):
    """The share just paid into the wallet."""

    model_config = example(
        {
            "packet_id": "rp_4a5b6c7d8e9f",
            "amount": 1234,
            "shares": 10,
            "greeting": "恭喜发财",
            "details_url": "/v1/red-packets/rp_4a5b6c7d8e9f",
        }
    )

    packet_id: str
    amount: int
    shares: int
    greeting: str
    details_url: str


class CampaignOut(Out):
    """A campaign and its report: uses, subsidy paid, sales it came with, budget left."""

    model_config = example(CAMPAIGN)

    id: str
    name: str
    kind: Literal["amount_off", "percent_off", "spend_get", "random"]
    state: Literal["active", "paused", "ended"]
    merchant_id: str | None = Field(description="Null: a platform campaign for every merchant.")
    funder: str
    budget: int
    budget_left: int
    used_count: int
    subsidy_paid: int
    sales_with_discount: int
    returned_to_funder: int
    amount_off: int
    percent_ppm: int
    cap: int
    min_spend: int
    random_min: int
    random_max: int
    first_payment_only: bool
    window_start_min: int
    window_end_min: int
    per_consumer_per_day: int
    per_consumer_total: int
    total_count: int
    needs_coupon: bool
    created_at: datetime


class CampaignList(Listing[CampaignOut]):
    model_config = example({"data": [CAMPAIGN]})
