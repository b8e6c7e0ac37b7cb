"""Success bodies of the operators' console (``/v1/ops``) and of the people's access logs.

Times are RFC 3339 in UTC; amounts integers in the currency's minor unit. An access log names
the operator's role, never the operator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from saoma.api.accounts_out import DeviceOut, FreshOut
from saoma.api.payments_out import (
    HOLD,
    MERCHANT_PAYMENT,
    PAYMENT,
    HoldOut,
    MerchantPaymentOut,
    PaymentOut,
)
from saoma.api.responses import Out, Page, example

EXAMPLE_OPS_SESSION = "ot_7e6d5c4b3a2f1e0d9c8b"  # nosec B105  # an example
Role = Literal["support", "risk", "finance", "admin"]
OPERATOR = {"id": "op_7k2m4n6p8q", "login": "ana@ops.example", "name": "Ana", "role": "support"}
FREEZE = {
    "reason": "Reported stolen phone",
    "since": "2026-11-24T12:00:00.000Z",
    "appeal": "Call 400-000-0000",
    "by_role": "support",
}
ACCESS = {
    "at": "2026-11-24T12:13:40.000Z",
    "role": "support",
    "action": "consumer.view",
    "what": "wallet, history, holds, devices",
    "reason": "Ticket 4521: payment not received",
}


class OperatorOut(Out):
    model_config = example(OPERATOR)

    id: str
    login: str
    name: str
    role: Role


class OperatorListed(OperatorOut):
    model_config = example(
        {**OPERATOR, "created_at": "2026-11-20T09:00:00.000Z", "disabled": False}
    )

    created_at: datetime
    disabled: bool


class OperatorsOut(Out):
    """Every operator, oldest first; a disabled one can no longer sign in."""

    model_config = example(
        {"operators": [{**OPERATOR, "created_at": "2026-11-20T09:00:00.000Z", "disabled": False}]}
    )

    operators: list[OperatorListed]


class OpsSignedInOut(Out):
    """A console session: send the token as ``Authorization: Bearer`` (or the console's
    cookie) until ``expires_at``."""

    model_config = example(
        {
            "token": EXAMPLE_OPS_SESSION,
            "operator": OPERATOR,
            "expires_at": "2026-11-24T20:00:00.000Z",
        }
    )

    token: str
    operator: OperatorOut
    expires_at: datetime


class FoundOut(Out):
    """A person found: name and login masked (``a***@example.com``)."""

    kind: Literal["consumer", "merchant"]
    id: str
    name: str
    login: str


class SearchOut(FreshOut):
    model_config = example(
        {
            "results": [
                {
                    "kind": "consumer",
                    "id": "c_2a3b4c5d6e7f",
                    "name": "L* W**",
                    "login": "+86*******8000",
                }
            ],
            "read_from": "replica",
            "data_age_s": 0.4,
        }
    )

    results: list[FoundOut]


class FreezeInForceOut(Out):
    model_config = example(FREEZE)

    reason: str
    since: datetime
    appeal: str
    by_role: str


class PersonCardOut(Out):
    id: str
    display_name: str
    login: str
    identifiers: list[str]
    created_at: datetime


class OpsWalletOut(Out):
    currency: str
    balance: int
    available: int
    reserved: int


class ConsumerPageOut(Out):
    """One consumer as support sees them, after typing why."""

    model_config = example(
        {
            "consumer": {
                "id": "c_2a3b4c5d6e7f",
                "display_name": "Li Wei",
                "login": "+8613800138000",
                "identifiers": ["+8613800138000", "li.wei@example.com"],
                "created_at": "2026-11-01T08:00:00.000Z",
            },
            "wallet": {"currency": "CNY", "balance": 12000, "available": 10000, "reserved": 2000},
            "freeze": None,
            "history": [PAYMENT],
            "holds": [HOLD],
            "devices": [{"id": "dev_3c2b1a0f9e8d", "label": "Li Wei's phone"}],
        }
    )

    consumer: PersonCardOut
    wallet: OpsWalletOut
    freeze: FreezeInForceOut | None
    history: list[PaymentOut]
    holds: list[HoldOut]
    devices: list[DeviceOut]


class ShopCardOut(Out):
    id: str
    login: str
    name: str
    name_zh: str
    city: str
    category_code: str
    created_at: datetime


class MerchantPageOut(Out):
    """One merchant as support sees them, after typing why."""

    model_config = example(
        {
            "merchant": {
                "id": "m_8f3a2c1d9e7b",
                "login": "chen@example.com",
                "name": "Old Chen Noodles",
                "name_zh": "老陈面馆",
                "city": "Shanghai",
                "category_code": "5812",
                "created_at": "2026-10-01T08:00:00.000Z",
            },
            "currency": "CNY",
            "balance": 245000,
            "freeze": None,
            "kyc_state": None,
            "payments": [MERCHANT_PAYMENT],
        }
    )

    merchant: ShopCardOut
    currency: str
    balance: int
    freeze: FreezeInForceOut | None
    kyc_state: str | None
    payments: list[MerchantPaymentOut]


class AuditEntryOut(Out):
    seq: int
    at: datetime
    operator_id: str
    operator_login: str = Field(description="The operator's login now (the log keeps the id).")
    role: str
    action: str
    subject_kind: str
    subject_id: str
    what: str
    reason: str
    address: str
    prev_hash: str
    hash: str


class AuditPage(Page[AuditEntryOut]):
    model_config = example(
        {
            "data": [
                ACCESS
                | {
                    "seq": 42,
                    "operator_id": "op_7k2m4n6p8q",
                    "operator_login": "ana@ops.example",
                    "subject_kind": "consumer",
                    "subject_id": "c_2a3b4c5d6e7f",
                    "address": "10.0.0.7",
                    "prev_hash": "0" * 64,
                    "hash": "9" * 64,
                }
            ],
            "next_cursor": None,
        }
    )


class AccessOut(Out):
    """One look at the person's data: when, by which role, what, and the reason typed."""

    at: datetime
    role: str
    action: str
    what: str
    reason: str


class AccessLogOut(Out):
    """Who looked at my data, newest first (``next_cursor`` continues it)."""

    model_config = example({"entries": [ACCESS], "next_cursor": None})

    entries: list[AccessOut]
    next_cursor: str | None
