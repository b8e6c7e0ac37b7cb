"""Success bodies of disputes: one dispute with its timeline, and lists of them.

Amounts are integers in the currency's minor unit; times are RFC 3339 in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from saoma.api.responses import Out, example, sometimes

STATE = Literal[
    "open",
    "contested",
    "escalated",
    "refunded",
    "decided_for_payer",
    "decided_for_merchant",
    "withdrawn",
]
DISPUTE = {
    "id": "dp_k3m4n5p6q7r8s2t3",
    "payment_id": "pay_4a5b6c7d8e9f2a3b",
    "merchant_id": "m_2a3b4c5d6e7f",
    "merchant_name": "Lotus Noodles",
    "amount": 2700,
    "currency": "CNY",
    "reason": "not_as_described",
    "text": "The bowl was cold and half empty.",
    "state": "contested",
    "decision": None,
    "refund_id": None,
    "answer_by": "2026-11-27T09:00:00.000Z",
    "created_at": "2026-11-24T09:00:00.000Z",
    "updated_at": "2026-11-24T10:00:00.000Z",
    "timeline": [
        {
            "at": "2026-11-24T09:00:00.000Z",
            "actor": "payer",
            "kind": "opened",
            "text": "The bowl was cold and half empty.",
            "file_id": "df_a2b3c4d5e6f7g2h3",
        },
        {
            "at": "2026-11-24T10:00:00.000Z",
            "actor": "merchant",
            "kind": "contested",
            "text": "Served hot; photo of the bowl at the counter.",
            "file_id": None,
        },
    ],
}


class TimelineEntryOut(Out):
    """One step of a dispute: who did what, with their words and a photo if they sent one."""

    at: datetime
    actor: Literal["payer", "merchant", "support", "system"]
    kind: Literal["opened", "refunded", "contested", "escalated", "decided", "withdrawn"]
    text: str
    file_id: str | None = Field(description="A photo: GET …/disputes/{id}/files/{file_id}.")


_SUMMARY_KEYS = (
    "id",
    "payment_id",
    "merchant_id",
    "merchant_name",
    "amount",
    "currency",
    "reason",
    "state",
    "decision",
    "answer_by",
    "created_at",
    "updated_at",
)


class DisputeSummaryOut(Out):
    """A dispute in the operators' queue: what it is about, without the parties' words, their
    photos or the payer. Those are read one dispute at a time, with a typed reason, audited."""

    model_config = example({k: DISPUTE[k] for k in _SUMMARY_KEYS})

    id: str
    payment_id: str
    merchant_id: str
    merchant_name: str
    amount: int
    currency: str
    reason: Literal["not_received", "not_as_described", "charged_twice", "unauthorised", "other"]
    state: STATE
    decision: Literal["payer", "merchant"] | None = Field(description="Support's decision.")
    answer_by: datetime
    created_at: datetime
    updated_at: datetime


class DisputeQueue(Out):
    """The operators' queue of disputes, newest first (at most 200)."""

    model_config = example({"disputes": [{k: DISPUTE[k] for k in _SUMMARY_KEYS}]})

    disputes: list[DisputeSummaryOut]


class DisputeOut(DisputeSummaryOut):
    """A payer's dispute of a payment. ``amount`` is what the payer asks back (at most what
    they paid and has not been refunded); the merchant answers by ``answer_by`` (refund or
    contest), after which support decides."""

    model_config = example(DISPUTE)

    text: str
    refund_id: str | None = Field(description="The refund that gave the payer their money back.")
    timeline: list[TimelineEntryOut]
    consumer_id: str | SkipJsonSchema[None] = sometimes(description="The payer (operators).")


class DisputeList(Out):
    """Disputes, newest first (at most 200)."""

    model_config = example({"disputes": [DISPUTE]})

    disputes: list[DisputeOut]
