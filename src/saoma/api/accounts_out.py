"""Success bodies of wallets, merchants and what they own: sessions, identifiers, bank
transfers, keys, webhook secrets and deliveries, payment-code devices, reports.

Amounts are integers in the currency's minor unit; a member named ``*_us`` is microseconds since
the Unix epoch, other times are RFC 3339 in UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from saoma.api.payments_out import MERCHANT
from saoma.api.responses import Listing, Out, Page, example, sometimes

CONSUMER = {
    "id": "c_2a3b4c5d6e7f",
    "login": "+8613800138000",
    "display_name": "Li Wei",
    "currency": "CNY",
    "has_pin": True,
    "no_pin_limit": {"per_payment": 5000, "per_day": 20000},
}
IDENTIFIER = {
    "identifier": "+8613800138000",
    "kind": "phone",
    "verified": False,
    "code_expires_at": "2026-11-24T04:22:05.120Z",
    "code_tries_left": 5,
    "resend_after": "2026-11-24T04:13:05.120Z",
}
BANK_TRANSFER = {
    "id": "bt_6c5d4e3f2a1b",
    "direction": "topup",
    "amount": 10000,
    "currency": "CNY",
    "state": "pending",
    "failure": "",
    "created_at": "2026-11-24T04:00:00.000Z",
}
MERCHANT_VIEW = MERCHANT | {
    "login": "noodles@example.cn",
    "fee_ppm": 6000,
    "webhook_url": "https://noodles.example.cn/saoma",
    "has_manager_pin": False,
    "balance": 128_450,
    "kyc_state": "approved",
    "static_code": {
        "qr_payload": "00020101021126...6304E5F6",
        "qr_image_url": "/v1/merchants/m_8f3a2c1d9e7b/static-code.svg",
    },
}

FREEZE_SHOWN = {
    "reason": "Your phone was reported stolen.",
    "since": "2026-11-24T09:00:00.000Z",
    "appeal": "Call support on 400-000-0000 with your account id.",
}

# Examples in the API document, not credentials (named so that no checker takes them for one).
EXAMPLE_SESSION = "st_4f3e2d1c0b9a8f7e6d5c4b3a"
EXAMPLE_MERCHANT_SESSION = "mt_9a8b7c6d5e4f3a2b1c0d"
WHSEC_EXAMPLE = "whsec_MfKQ9r8GKYqXZ3o6l0a9b8c7d6e5f4"
EXAMPLE_PUBLIC_KEY = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="


class NoPinLimitOut(Out):
    per_payment: int = Field(description="Largest payment-code charge without the PIN; 0: off.")
    per_day: int


class ConsumerOut(Out):
    """A wallet's owner as the owner sees it."""

    model_config = example(CONSUMER)

    id: str
    login: str = Field(description="Empty until the login's code was typed back.")
    display_name: str
    currency: str
    has_pin: bool
    no_pin_limit: NoPinLimitOut


class FreezeShownOut(Out):
    """An operator froze the account: why, since when, and how to appeal."""

    model_config = example(FREEZE_SHOWN)

    reason: str
    since: datetime
    appeal: str


class MeOut(ConsumerOut):
    """The signed-in consumer and the wallet's balance."""

    model_config = example(
        CONSUMER | {"balance": 50_000, "available": 40_100, "held": 9900, "freeze": None}
    )

    balance: int
    available: int = Field(description="The balance less what holds reserve.")
    held: int
    freeze: FreezeShownOut | None = Field(
        description="Null, or the freeze in force: the wallet cannot pay, transfer or withdraw"
        " (it still receives refunds)."
    )


class IdentifierOut(Out):
    """A phone or e-mail of the wallet; money sent to it arrives once it is verified."""

    model_config = example(IDENTIFIER)

    identifier: str
    kind: Literal["phone", "email"]
    verified: bool
    verified_at: datetime | SkipJsonSchema[None] = sometimes(description="Once verified.")
    code_expires_at: datetime | SkipJsonSchema[None] = sometimes(
        description="While a code sent is waiting to be typed back."
    )
    code_tries_left: int | SkipJsonSchema[None] = sometimes()
    resend_after: datetime | SkipJsonSchema[None] = sometimes(
        description="Until verified: when another code may be asked for."
    )


class VerificationOut(IdentifierOut):
    """The login of a new wallet and whether its code went out."""

    model_config = example(IDENTIFIER | {"code_sent": True})

    code_sent: bool
    detail: str | SkipJsonSchema[None] = sometimes(description="Why no code went out.")


class VerifiedOut(IdentifierOut):
    """The identifier, now verified, and the balance with the money that waited for it."""

    model_config = example(
        {
            "identifier": "+8613800138000",
            "kind": "phone",
            "verified": True,
            "verified_at": "2026-11-24T04:14:00.000Z",
            "balance": 5000,
        }
    )

    balance: int


class IdentifierList(Listing[IdentifierOut]):
    model_config = example({"data": [IDENTIFIER]})


class SignedUpOut(Out):
    """A new wallet, its session token (send it as `Authorization: Bearer`), and its login."""

    model_config = example(
        {
            "consumer": CONSUMER | {"login": "", "has_pin": False},
            "token": EXAMPLE_SESSION,
            "verification": IDENTIFIER | {"code_sent": True},
        }
    )

    consumer: ConsumerOut
    token: str
    verification: VerificationOut


class SessionsEndedOut(Out):
    model_config = example({"sessions_ended": 2})

    sessions_ended: int = Field(description="How many signed-in sessions ended.")
    devices_revoked: int | SkipJsonSchema[None] = sometimes(
        description="A wallet signed out everywhere: how many devices' payment codes stopped."
    )


class SignedInOut(Out):
    model_config = example({"consumer": CONSUMER, "token": EXAMPLE_SESSION})

    consumer: ConsumerOut
    token: str


class BankTransferOut(Out):
    """A top-up or withdrawal: `pending` until the bank answers."""

    model_config = example(BANK_TRANSFER)

    id: str
    direction: Literal["topup", "withdraw"]
    amount: int
    currency: str
    state: Literal["pending", "succeeded", "failed"]
    failure: str = Field(description="What the bank said when it failed; empty otherwise.")
    created_at: datetime


class BankTransferPage(Page[BankTransferOut]):
    model_config = example({"data": [BANK_TRANSFER], "next_cursor": None})


class CodeOut(Out):
    """A code to show: `qr_payload` as a QR code, or the image at `qr_image_url`."""

    model_config = example(
        {
            "qr_payload": "00020101021126...6304E5F6",
            "qr_image_url": "/v1/merchants/m_8f3a2c1d9e7b/static-code.svg",
        }
    )

    qr_payload: str
    qr_image_url: str


class MerchantOut(Out):
    """The merchant's profile, settlement balance and static code."""

    model_config = example(MERCHANT_VIEW)

    id: str
    name: str
    name_zh: str
    city: str
    category_code: str
    currency: str
    login: str
    fee_ppm: int = Field(description="The fee in parts per million of each payment.")
    webhook_url: str
    has_manager_pin: bool
    balance: int
    kyc_state: Literal["unverified", "pending", "approved", "rejected"] = Field(
        description="The business details' review (GET /v1/merchant/kyc has the details)."
    )
    static_code: CodeOut


class MerchantMeOut(MerchantOut):
    """The merchant's profile, settlement balance, static code and freeze."""

    model_config = example(MERCHANT_VIEW | {"freeze": None})

    freeze: FreezeShownOut | None = Field(
        description="Null, or the freeze in force: no payments are taken and nothing is paid"
        " out (refunds still go)."
    )


class MerchantSignedUpOut(Out):
    """A new merchant, its webhook secret, its session token and the id of the key sent."""

    model_config = example(
        {
            "merchant": MERCHANT_VIEW,
            "key_id": "k_0a1b2c3d4e5f6a7b",
            "webhook_secret": WHSEC_EXAMPLE,
            "token": EXAMPLE_MERCHANT_SESSION,
        }
    )

    merchant: MerchantOut
    key_id: str | None = Field(description="The public key's id, when one was sent.")
    webhook_secret: str
    token: str


class MerchantSignedInOut(Out):
    model_config = example({"merchant": MERCHANT_VIEW, "token": EXAMPLE_MERCHANT_SESSION})

    merchant: MerchantOut
    token: str


class WebhookSecretOut(Out):
    """The secret deliveries are signed with; during a rotation also the previous one."""

    model_config = example(
        {
            "secret": WHSEC_EXAMPLE,
            "previous_secret": None,  # nosec B105 - None is no password
            "previous_valid_until_us": None,
            "rotated_at_us": None,
        }
    )

    secret: str
    previous_secret: str | None
    previous_valid_until_us: int | None
    rotated_at_us: int | None


class KeyOut(Out):
    """A public key that signs the merchant's requests; it stops at `expires_at_us`."""

    id: str
    public_key: str = Field(description="Raw Ed25519 public key, base64.")
    created_at_us: int
    expires_at_us: int | None


class KeyList(Listing[KeyOut]):
    model_config = example(
        {
            "data": [
                {
                    "id": "k_0a1b2c3d4e5f6a7b",
                    "public_key": "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=",
                    "created_at_us": 1795500000000000,
                    "expires_at_us": None,
                }
            ]
        }
    )


class KeyIdOut(Out):
    model_config = example({"id": "k_0a1b2c3d4e5f6a7b"})

    id: str


class SalesOut(Out):
    count: int
    gross: int
    fees: int
    refunded: int
    net: int


class HourOut(Out):
    hour: int = Field(description="0 to 23, local time.")
    count: int
    amount: int


class DayOut(Out):
    date: date
    count: int
    amount: int


class FreshOut(Out):
    """Figures for reading work, read from a standby when one is set (``saoma.replicas``)."""

    read_from: Literal["primary", "replica"] = Field(
        description="replica: a standby answered; its figures may be a little behind."
    )
    data_age_s: float = Field(
        description="Seconds behind the primary the figures may be (0: current).", examples=[0.0]
    )


class SummaryOut(FreshOut):
    """Takings today, today per hour and the last days per day, in the platform's time zone."""

    model_config = example(
        {
            "currency": "CNY",
            "timezone": "Asia/Shanghai",
            "date": "2026-11-24",
            "today": {"count": 3, "gross": 7500, "fees": 45, "refunded": 500, "net": 6955},
            "per_hour": [{"hour": 12, "count": 3, "amount": 7500}],
            "per_day": [{"date": "2026-11-24", "count": 3, "amount": 7500}],
            "read_from": "primary",
            "data_age_s": 0.0,
        }
    )

    currency: str
    timezone: str
    date: date
    today: SalesOut
    per_hour: list[HourOut]
    per_day: list[DayOut]


class AttemptOut(Out):
    status_code: int = Field(description="The receiver's HTTP status; 0: no answer.")
    error: str
    duration_ms: int
    attempted_at_us: int


class DeliveryOut(Out):
    id: str
    type: str = Field(examples=["payment.succeeded"])
    subject: str = Field(description="The order, payment, charge or hold the event is about.")
    url: str
    state: Literal["delivered", "pending", "failed"]
    created_at_us: int
    attempts: list[AttemptOut]


class DeliveryPage(Page[DeliveryOut]):
    model_config = example(
        {
            "data": [
                {
                    "id": "evt_5e4d3c2b1a09",
                    "type": "payment.succeeded",
                    "subject": "ord_5b1e0c2f7a9d",
                    "url": "https://noodles.example.cn/saoma",
                    "state": "delivered",
                    "created_at_us": 1795500000000000,
                    "attempts": [
                        {
                            "status_code": 200,
                            "error": "",
                            "duration_ms": 41,
                            "attempted_at_us": 1795500000050000,
                        }
                    ],
                }
            ],
            "next_cursor": None,
        }
    )


class ReplayOut(Out):
    model_config = example({"id": "evt_5e4d3c2b1a09", "state": "pending"})

    id: str
    state: Literal["pending"]


class EnrolledOut(Out):
    """A device's secret and one-time handles: shown once, kept on the device."""

    model_config = example(
        {
            "device_id": "dev_3c2b1a0f9e8d",
            "secret": EXAMPLE_PUBLIC_KEY,
            "step_s": 30,
            "handles": ["4821", "0937"],
        }
    )

    device_id: str
    secret: str = Field(description="32 bytes, base64.")
    step_s: int
    handles: list[str]


class DeviceOut(Out):
    id: str
    label: str


class DeviceList(Listing[DeviceOut]):
    model_config = example({"data": [{"id": "dev_3c2b1a0f9e8d", "label": "Li Wei's phone"}]})


class HandlesOut(Out):
    model_config = example({"handles": ["5512", "7730"]})

    handles: list[str]


class MessageOut(Out):
    id: str
    channel: Literal["sms", "email"]
    to: str
    body: str
    sent_at: datetime


class MessageList(Listing[MessageOut]):
    model_config = example(
        {
            "data": [
                {
                    "id": "msg_1a2b3c4d5e6f",
                    "channel": "sms",
                    "to": "+8613800138000",
                    "body": "Saoma: your code is 042917. It expires in 10 minutes.",
                    "sent_at": "2026-11-24T04:12:05.120Z",
                }
            ]
        }
    )
