"""Success bodies of mandates: the mandate with its notices and debits, a notice, a debit.

Amounts are integers in the currency's minor unit; times are RFC 3339 in UTC; dates are the
server's calendar days (YYYY-MM-DD).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from saoma.api.payments_out import MerchantPaymentOut
from saoma.api.responses import Out, Page, example, sometimes

NOTICE = {
    "id": "mn_k3m4n5p6q7r8s2t3",
    "amount": 3900,
    "currency": "CNY",
    "state": "pending",
    "created_at": "2026-11-24T09:00:00.000Z",
    "debit_from": "2026-11-25T09:00:00.000Z",
    "expires_at": "2026-12-02T09:00:00.000Z",
}
DEBIT = {
    "id": "mdb_a2b3c4d5e6f7g2h3",
    "notice_id": "mn_k3m4n5p6q7r8s2t3",
    "amount": 3900,
    "state": "made",
    "reason": None,
    "payment_id": "pay_4a5b6c7d8e9f2a3b",
    "created_at": "2026-11-25T09:30:00.000Z",
}
MANDATE: dict[str, Any] = {
    "id": "md_q2w3e4r5t6y7u2i3",
    "merchant_mandate_no": "GYM-2026-0042",
    "purpose": "Gym membership, monthly",
    "amount_max": 5000,
    "currency": "CNY",
    "frequency": "monthly",
    "start_on": "2026-11-01",
    "end_on": "2027-10-31",
    "state": "active",
    "debits_made": 1,
    "created_at": "2026-11-20T09:00:00.000Z",
    "agreed_at": "2026-11-20T09:05:00.000Z",
    "revoked_at": None,
    "merchant": {
        "id": "m_2a3b4c5d6e7f",
        "name": "Lotus Gym",
        "name_zh": "莲花健身",
        "city": "Shenzhen",
        "category_code": "7997",
        "currency": "CNY",
    },
    "next_debit": {"at": "2026-12-01T00:00:00.000Z", "amount": None, "notice_id": None},
    "notices": [NOTICE | {"state": "used"}],
    "debits": [DEBIT],
}

STATE = Literal["requested", "active", "paused", "revoked"]


class NoticeOut(Out):
    """A pre-debit notice: the payer sees it at once and may object; its debit may come from
    `debit_from` (24 hours after it was sent) until `expires_at`."""

    model_config = example(NOTICE)

    id: str
    amount: int
    currency: str
    state: Literal["pending", "used", "objected"]
    created_at: datetime
    debit_from: datetime
    expires_at: datetime


class DebitOut(Out):
    """A debit asked under a mandate: `made` (with its payment) or `refused` (with the
    problem type's slug in `reason`)."""

    model_config = example(DEBIT)

    id: str
    notice_id: str | None
    amount: int
    state: Literal["made", "refused"]
    reason: str | None = Field(description="Why it was refused: the problem type's slug.")
    payment_id: str | None
    created_at: datetime


class NextDebitOut(Out):
    """The next debit to expect: announced by a notice (with its amount), or the earliest one
    could come (no amount yet)."""

    at: datetime
    amount: int | None
    notice_id: str | None


class MerchantBriefOut(Out):
    id: str
    name: str
    name_zh: str
    city: str
    category_code: str
    currency: str


class MandateOut(Out):
    """A mandate: what the payer agreed to (or is asked to), with its notices and its debits,
    newest first, and the next debit to expect (null when paused, revoked or over)."""

    model_config = example(MANDATE)

    id: str
    merchant_mandate_no: str
    purpose: str
    amount_max: int = Field(description="The most one debit may take, minor units.")
    currency: str
    frequency: Literal["daily", "weekly", "monthly"]
    start_on: str
    end_on: str
    state: STATE
    debits_made: int
    created_at: datetime
    agreed_at: datetime | None
    revoked_at: datetime | None
    next_debit: NextDebitOut | None
    notices: list[NoticeOut]
    debits: list[DebitOut]
    merchant: MerchantBriefOut | SkipJsonSchema[None] = sometimes(
        description="The merchant (the payer's view)."
    )
    payer: str | SkipJsonSchema[None] = sometimes(
        description="The payer's masked name (the merchant's view)."
    )


class MandateList(Out):
    """The wallet's mandates, newest first (at most 100)."""

    model_config = example({"data": [MANDATE]})

    data: list[MandateOut]


class MandatePage(Page[MandateOut]):
    """The merchant's mandates, newest first, a page at a time."""

    model_config = example({"data": [MANDATE], "next_cursor": None})


class DebitMadeOut(DebitOut):
    """A debit made: its payment as the merchant sees it."""

    model_config = example(
        DEBIT
        | {
            "mandate_id": "md_q2w3e4r5t6y7u2i3",
            "payment": {
                "id": "pay_4a5b6c7d8e9f2a3b",
                "kind": "mandate",
                "order_id": None,
                "merchant": MANDATE["merchant"],
                "amount": 3900,
                "discount": 0,
                "paid": 3900,
                "currency": "CNY",
                "refunded": 0,
                "refunded_to_payer": 0,
                "note": "Gym membership, monthly",
                "created_at": "2026-11-25T09:30:00.000Z",
                "fee": 23,
                "net": 3877,
                "payer": "*伟",
            },
        }
    )

    mandate_id: str
    payment: MerchantPaymentOut
