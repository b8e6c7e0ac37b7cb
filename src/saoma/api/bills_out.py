"""Success bodies of the wallet's bills: one row per movement of the wallet's money.

Amounts are integers in the currency's minor unit; times are RFC 3339 in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from saoma.api.responses import Out, Page, example

BILL = {
    "id": "rfd:5f0c3a9e1b7d4c2a8e6f0b1d3c5a7e9f",
    "kind": "refund",
    "direction": "in",
    "amount": 450,
    "currency": "CNY",
    "name": "Shekou Noodles",
    "name_zh": "蛇口面馆",
    "note": "",
    "state": "done",
    "reference": "pay_2b3c4d5e6f7a8b9c0d1e",
    "payment_id": "pay_2b3c4d5e6f7a8b9c0d1e",
    "discount": 0,
    "held": 0,
    "greeting": "",
    "bank_reference": "",
    "expires_at": None,
    "created_at": "2026-12-03T04:05:06.789Z",
    "mandate_id": None,
    "mandate_purpose": "",
}

BillKind = Literal[
    "payment",
    "refund",
    "capture",
    "hold",
    "release",
    "transfer_out",
    "transfer_in",
    "transfer_returned",
    "red_packet_sent",
    "red_packet_claimed",
    "red_packet_returned",
    "top_up",
    "withdrawal",
]


class BillOut(Out):
    """One movement of the wallet's money, with whom, as it stands now."""

    model_config = example(BILL)

    id: str = Field(description="The row's id: `GET /v1/me/bills/{id}` is its receipt.")
    kind: BillKind
    direction: Literal["out", "in", "none"] = Field(
        description="`out` and `in` change the balance; `none` reserves or frees money (a hold)."
    )
    amount: int = Field(description="What moved: for a refund, what came back to the payer.")
    currency: str
    name: str = Field(
        description="The merchant's name, or the other person's masked name (`*敏`); may be empty."
    )
    name_zh: str = Field(description="The merchant's Chinese name, when it has one.")
    note: str = Field(description="The payer's note, a hold's description or a transfer's note.")
    state: str = Field(
        description="done, pending, waiting, returned, failed, held, captured, released,"
        " expired, refunded, partly_refunded, open, emptied"
    )
    reference: str = Field(
        description="The business object: payment, transfer, red packet, hold or bank transfer."
    )
    payment_id: str = Field(description="The payment of a payment, capture or refund row.")
    discount: int = Field(description="What a campaign paid of a payment's price.")
    held: int = Field(description="A hold's reserved amount (hold, capture and release rows).")
    greeting: str = Field(description="A red packet's greeting.")
    bank_reference: str = Field(description="The bank's reference of a top-up or withdrawal.")
    expires_at: datetime | None = Field(
        description="Until when a hold, a waiting transfer or a red packet stays open."
    )
    created_at: datetime
    mandate_id: str | None = Field(description="The mandate a debit under a mandate rests on.")
    mandate_purpose: str = Field(description="That mandate's purpose, as the merchant wrote it.")


class BillPage(Page[BillOut]):
    model_config = example({"data": [BILL], "next_cursor": "1234"})
