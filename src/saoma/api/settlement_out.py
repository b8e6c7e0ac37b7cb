"""Bodies of the settlement routes: settlements, statement lines, bank accounts and terms.

Amounts are integers in the currency's minor unit; times are RFC 3339 in UTC.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, StrictStr

from saoma.api.responses import Listing, Out, Page, example
from saoma.api.schemas import Body

SETTLEMENT = {
    "id": "stl_k3j2h4g5f6d7s8a9",
    "kind": "scheduled",
    "business_date": "2026-12-04",
    "period_start": "2026-12-03T16:00:00.000Z",
    "period_end": "2026-12-04T16:00:00.000Z",
    "currency": "CNY",
    "lines": 212,
    "gross": 318_000,
    "fees": 1_908,
    "refunds": 2_500,
    "splits": -25_440,
    "reserve": 0,
    "other": 0,
    "carried_in": 0,
    "net": 288_152,
    "payout": 288_152,
    "carried_out": 0,
    "state": "paid",
    "attempt": 1,
    "bank_reference": "SBX4F2A9C01D3E7",
    "failure": "",
    "created_at": "2026-12-04T16:00:02.411Z",
    "paid_at": "2026-12-04T16:00:03.020Z",
}
LINE = {
    "time": "2026-12-04T04:12:07.311Z",
    "kind": "payment",
    "amount": 2500,
    "currency": "CNY",
    "payment_id": "pay_0c4d5e6f7a8b",
    "refund_id": None,
    "reference": "pay_0c4d5e6f7a8b",
    "transfer_id": "pay:1f0c3e9a",
}
BANK_ACCOUNT = {
    "id": "ba_q2w3e4r5t6y7u8i9",
    "holder_name": "Chen Jianguo",
    "account_number": "•••• 8812",
    "bank_name": "Bank of Shenzhen",
    "state": "verified",
    "failure": "",
    "created_at": "2026-12-01T02:00:00.000Z",
    "updated_at": "2026-12-01T02:00:01.000Z",
}
TERMS = {
    "schedule": "daily",
    "cutoff_hour": 0,
    "weekday": "monday",
    "reserve_percent": 0.0,
    "reserve_days": 0,
    "overdraft_limit": 50_000,
    "instant_payout_max": 500_000,
    "instant_payout_fee_ppm": 1_000,
}


class SettlementOut(Out):
    """A settlement: the movements it took (``lines``), what they add up to (``net``), what was
    paid to the bank (``payout``) and what is carried into the next one (``carried_out``).
    ``fees`` and ``refunds`` are what was taken off; ``splits``, ``reserve`` and ``other`` are
    signed (received less given, released less held)."""

    model_config = example(SETTLEMENT)

    id: str
    kind: Literal["scheduled", "instant"]
    business_date: str
    period_start: str | None
    period_end: str
    currency: str
    lines: int
    gross: int
    fees: int
    refunds: int
    splits: int
    reserve: int
    other: int
    carried_in: int
    net: int
    payout: int
    carried_out: int
    state: Literal["closed", "paying", "paid", "failed", "carried", "nothing"]
    attempt: int
    bank_reference: str
    failure: str
    created_at: str
    paid_at: str | None


class SettlementPage(Page[SettlementOut]):
    model_config = example({"data": [SETTLEMENT], "next_cursor": None})


class SettlementLineOut(Out):
    """One movement of a settlement, signed as it moved the merchant's money."""

    model_config = example(LINE)

    time: str
    kind: str
    amount: int
    currency: str
    payment_id: str | None
    refund_id: str | None
    reference: str
    transfer_id: str


class SettlementLinePage(Page[SettlementLineOut]):
    model_config = example({"data": [LINE], "next_cursor": None})


class BankAccountOut(Out):
    """A bank account payouts go to once the bank has verified it; only the last four digits
    of its number are shown."""

    model_config = example(BANK_ACCOUNT)

    id: str
    holder_name: str
    account_number: str
    bank_name: str
    state: Literal["verifying", "verified", "failed", "replaced"]
    failure: str
    created_at: str
    updated_at: str


class BankAccountsOut(Listing[BankAccountOut]):
    """The account in use (``current``), and every account registered, newest first."""

    model_config = example({"current": BANK_ACCOUNT, "data": [BANK_ACCOUNT]})

    current: BankAccountOut | None


class TermsOut(Out):
    """When the merchant is paid: daily (T+1 at 00:00, T+0 at a later hour) or weekly."""

    model_config = example(TERMS)

    schedule: Literal["daily", "weekly"]
    cutoff_hour: int
    weekday: str
    reserve_percent: float
    reserve_days: int
    overdraft_limit: int
    instant_payout_max: int = Field(description="An instant payout pays at most this.")
    instant_payout_fee_ppm: int = Field(description="Its fee, parts per million of what it pays.")


class AddBankAccount(Body):
    holder_name: StrictStr = Field(max_length=200, examples=["Chen Jianguo"])
    account_number: StrictStr = Field(max_length=64, examples=["6222 0210 0111 8812"])
    bank_name: StrictStr = Field(default="", max_length=200, examples=["Bank of Shenzhen"])
    manager_pin: StrictStr | None = Field(
        default=None, max_length=6, description="Needed once a manager PIN is set."
    )


class SetTerms(Body):
    schedule: Literal["daily", "weekly"] | None = None
    cutoff_hour: StrictInt | None = Field(default=None, examples=[0], description="0 to 23")
    weekday: StrictStr | None = Field(default=None, max_length=10, examples=["monday"])


class SandboxSettle(Body):
    at: StrictStr | None = Field(
        default=None, max_length=40, examples=["2026-12-06T00:05:00+08:00"]
    )


class SettleRunOut(Out):
    """What one settlement run did."""

    model_config = example({"settlements": 3, "merchants": 5, "moved": 0})

    settlements: int = Field(description="Settlements made.")
    merchants: int = Field(description="Merchants whose cut-off had passed.")
    moved: int = Field(description="Settlements an earlier run closed, moved now.")
