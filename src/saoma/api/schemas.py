"""Request and response bodies. Strict: an amount is an integer, unknown fields are refused."""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

from saoma.core.errors import SaomaError
from saoma.merchants.service import check_webhook_url
from saoma.promotions.offers import OFFER_TOKEN_CHARS_MAX


def storable_text(value: str) -> str:
    """Text a database can keep and a JSON answer can carry: no NUL, no half surrogate pair."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError("must be valid Unicode (it holds half of a surrogate pair)")
    return value


def _http_url(value: str) -> str:
    try:
        check_webhook_url(value)
    except SaomaError as exc:
        raise ValueError(exc.detail.split(" ", 1)[1]) from exc  # without the field's name
    return value


def _six_digits(value: str | None) -> str | None:
    if value is not None and not (len(value) == 6 and value.isascii() and value.isdigit()):
        raise ValueError("must be six digits")
    return value


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable_text(value) if isinstance(value, str) else value


class ProblemDoc(BaseModel):
    """An RFC 9457 problem document; some problems carry members of their own (extensions)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://saoma.dev/problems/insufficient-funds",
                    "title": "Insufficient funds",
                    "status": 402,
                    "detail": "the wallet does not hold enough money",
                    "instance": "/v1/orders/ord_5b1e0c2f7a9d/pay",
                }
            ]
        },
    )

    type: str = Field(examples=["https://saoma.dev/problems/insufficient-funds"])
    title: str = Field(examples=["Insufficient funds"])
    status: int = Field(examples=[402])
    detail: str = Field(examples=["the wallet does not hold enough money"])
    instance: str | None = None
    field: str | None = Field(default=None, examples=["amount"])


class SignUp(Body):
    login: StrictStr = Field(examples=["+8613800138000"], description="Phone (E.164) or e-mail.")
    password: StrictStr = Field(min_length=1, max_length=256, examples=["correct horse battery"])
    display_name: StrictStr = Field(default="", max_length=64, examples=["Li Wei"])


class SignIn(Body):
    login: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=256)


class ChangePassword(Body):
    current_password: StrictStr = Field(max_length=256)
    new_password: StrictStr = Field(
        max_length=256, examples=["another horse battery"], description="8 to 256 characters."
    )


class SetPin(Body):
    pin: StrictStr = Field(examples=["246810"], description="Six digits.")
    password: StrictStr | None = Field(
        default=None, max_length=256, description="To set the first PIN."
    )
    old_pin: StrictStr | None = Field(default=None, description="To change the PIN.")


class NoPinLimit(Body):
    per_payment: StrictInt = Field(examples=[5000], description="Minor units; 0 turns it off.")
    per_day: StrictInt = Field(examples=[20000])
    pin: StrictStr


class TopUp(Body):
    amount: StrictInt = Field(examples=[10000], description="Minor units (fen).")
    currency: StrictStr = Field(default="CNY", examples=["CNY"])


class Withdraw(Body):
    amount: StrictInt = Field(examples=[5000])
    currency: StrictStr = Field(default="CNY")
    pin: StrictStr


class Preview(Body):
    payload: StrictStr = Field(max_length=512, description="The scanned EMVCo payload.")
    amount: StrictInt | None = Field(
        default=None, description="For a static code: the amount typed, to see any discount."
    )


class PayOrder(Body):
    # Bounded here: an order the payer already paid answers with that payment, before the PIN
    # or the offer is looked at, and text no PIN or offer id can be must still be refused.
    pin: StrictStr | None = Field(default=None, max_length=64)
    offer_id: StrictStr | None = Field(
        default=None,
        max_length=OFFER_TOKEN_CHARS_MAX,
        description="The offer from the preview: its discount applies or nothing.",
    )


class PayStatic(Body):
    amount: StrictInt = Field(examples=[1500])
    currency: StrictStr = Field(default="CNY")
    note: StrictStr = Field(default="", max_length=128)
    pin: StrictStr | None = None
    offer_id: StrictStr | None = None


class CreateCampaign(Body):
    name: StrictStr = Field(max_length=64, examples=["Lunch ¥5 off"])
    kind: StrictStr = Field(
        examples=["amount_off"], description="amount_off | percent_off | spend_get | random"
    )
    budget: StrictInt = Field(examples=[50_000], description="Minor units, from your balance.")
    amount_off: StrictInt = 0
    percent_ppm: StrictInt = 0
    cap: StrictInt = 0
    min_spend: StrictInt = 0
    random_min: StrictInt = 0
    random_max: StrictInt = 0
    first_payment_only: StrictBool = False
    window_start_min: StrictInt = Field(default=0, description="Minutes after midnight, UTC+8.")
    window_end_min: StrictInt = 1440
    per_consumer_per_day: StrictInt = 0
    per_consumer_total: StrictInt = 0
    total_count: StrictInt = 0
    needs_coupon: StrictBool = False


class MerchantSignUp(Body):
    login: StrictStr = Field(examples=["noodles@example.cn"])
    password: StrictStr = Field(min_length=1, max_length=256)
    name: StrictStr = Field(
        default="",
        examples=["Old Chen Noodles"],
        description="25 characters at most; may be left out when name_zh is given"
        " (the code then carries '<city> merchant').",
    )
    name_zh: StrictStr = Field(default="", examples=["老陈面馆"])
    city: StrictStr = Field(examples=["Shenzhen"])
    category_code: StrictStr = Field(
        default="5814", examples=["5814"], description="ISO 18245 MCC."
    )
    webhook_url: StrictStr = Field(default="", examples=["https://noodles.example.cn/saoma"])
    public_key: StrictStr | None = Field(
        default=None, description="Base64 raw Ed25519 public key for signed API requests."
    )

    _webhook_url = field_validator("webhook_url")(_http_url)


class AddKey(Body):
    public_key: StrictStr
    rotate: StrictBool = Field(
        default=False, description="Older keys stay valid for the overlap period only."
    )


class WebhookUrl(Body):
    url: StrictStr

    _url = field_validator("url")(_http_url)


class CreateOrder(Body):
    merchant_order_no: StrictStr = Field(examples=["T20261124-0001"])
    amount: StrictInt = Field(examples=[2500])
    currency: StrictStr = Field(default="CNY")
    description: StrictStr = Field(default="", max_length=128, examples=["Beef noodles"])
    expires_in_s: StrictInt = Field(default=900)
    notify_url: StrictStr = Field(default="")

    _notify_url = field_validator("notify_url")(_http_url)


class CreateRefund(Body):
    amount: StrictInt = Field(examples=[500])
    merchant_refund_no: StrictStr = Field(examples=["R-0001"])
    reason: StrictStr = Field(default="", max_length=128)
    manager_pin: StrictStr | None = Field(
        default=None, description="Six digits: required from a signed-in session, not when signed."
    )

    _manager_pin = field_validator("manager_pin")(_six_digits)


class CreateCharge(Body):
    code: StrictStr = Field(examples=["281234567890123456"], description="The payer's code.")
    amount: StrictInt = Field(examples=[1800])
    currency: StrictStr = Field(default="CNY")
    merchant_order_no: StrictStr
    terminal_id: StrictStr = Field(default="default", max_length=64)


class ConfirmCharge(Body):
    pin: StrictStr | None = None
    accept: StrictBool = True


class CreateHold(Body):
    merchant_ref: StrictStr = Field(examples=["bike-ride-42"])
    amount: StrictInt = Field(examples=[9900])
    currency: StrictStr = Field(default="CNY")
    expires_in_s: StrictInt = Field(default=86400)
    description: StrictStr = Field(default="", max_length=128)


class ConsentHold(Body):
    pin: StrictStr | None = None


class CaptureHold(Body):
    amount: StrictInt = Field(examples=[150], description="Minor units; at most the hold.")


def model_dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump()


class SendMoney(Body):
    to: StrictStr = Field(
        max_length=254, examples=["+8613800000002"], description="Wallet id, phone or e-mail."
    )
    amount: StrictInt = Field(examples=[5000])
    currency: StrictStr = Field(default="CNY")
    note: StrictStr = Field(default="", max_length=128, examples=["dinner"])
    pin: StrictStr | None = None


class FindRecipient(Body):
    to: StrictStr = Field(
        max_length=254, examples=["+8613800000002"], description="Wallet id, phone or e-mail."
    )


class CreateRedPacket(Body):
    amount: StrictInt = Field(examples=[8800])
    shares: StrictInt = Field(examples=[10])
    mode: StrictStr = Field(default="random", description="equal | random")
    greeting: StrictStr = Field(default="", max_length=64, examples=["恭喜发财"])
    currency: StrictStr = Field(default="CNY")
    pin: StrictStr | None = None


class EnrolDevice(Body):
    label: StrictStr = Field(default="", max_length=64, examples=["Li Wei's phone"])
