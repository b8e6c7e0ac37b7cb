"""Success bodies of split payments: the agreements between merchants, and the splits of a
payment made under them.

Amounts are integers in the currency's minor unit; times are RFC 3339 in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from saoma.api.responses import Listing, Out, example

AGREEMENT = {
    "id": "sa_k3m4n5p6q7r8s2t3",
    "merchant_id": "m_2a3b4c5d6e7f",
    "receiver_id": "m_9f8e7d6c5b4a",
    "share_ppm": 80000,
    "fixed": 0,
    "cap": 0,
    "currency": "CNY",
    "standing": True,
    "state": "accepted",
    "created_at": "2026-11-24T09:00:00.000Z",
    "updated_at": "2026-11-24T09:05:00.000Z",
}
SPLIT = {
    "id": "spl:5e1f0c9a8b7d6e5f4a3b2c1d0e9f8a7b",
    "payment_id": "pay_4a5b6c7d8e9f2a3b",
    "agreement_id": "sa_k3m4n5p6q7r8s2t3",
    "merchant_id": "m_2a3b4c5d6e7f",
    "receiver_id": "m_9f8e7d6c5b4a",
    "amount": 200,
    "returned": 0,
    "currency": "CNY",
    "created_at": "2026-11-24T12:00:00.000Z",
}


class SplitAgreementOut(Out):
    """A merchant (``merchant_id``) gives another (``receiver_id``) a share of its payments:
    a percentage or a fixed amount per payment, at most ``cap`` when it is above 0."""

    model_config = example(AGREEMENT)

    id: str
    merchant_id: str = Field(description="The merchant that gives the share.")
    receiver_id: str = Field(description="The merchant that receives it.")
    share_ppm: int = Field(description="Parts per million of each payment (80000 is 8%); or 0.")
    fixed: int = Field(description="A fixed amount per payment; or 0.")
    cap: int = Field(description="The most one split takes; 0: no cap.")
    currency: str
    standing: bool = Field(description="True: every payment after acceptance is split.")
    state: Literal["proposed", "accepted", "declined", "ended"]
    created_at: datetime
    updated_at: datetime


class SplitAgreementList(Listing[SplitAgreementOut]):
    """The agreements the merchant gives and those it receives, newest first."""

    model_config = example({"data": [AGREEMENT]})


class SplitOut(Out):
    """A payment's share passed on to a receiver; ``returned`` is what refunds took back."""

    model_config = example(SPLIT)

    id: str = Field(description="The ledger transfer that moved it.")
    payment_id: str
    agreement_id: str
    merchant_id: str
    receiver_id: str
    amount: int
    returned: int
    currency: str
    created_at: datetime


class SplitList(Listing[SplitOut]):
    model_config = example({"data": [SPLIT]})
