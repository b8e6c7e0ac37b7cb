"""The checks every payment input passes at the edge of the payments service.

Each names the field at fault; bad input changes nothing.
"""

from __future__ import annotations

from typing import Any

from saoma.core.errors import CurrencyMismatch, InvalidRequest, PinRequired
from saoma.core.money import AMOUNT_MINOR_MAX, BY_ALPHA
from saoma.wallets.pins import PinTry
from saoma.wallets.service import Consumer, PinPass, Wallets


def check_amount(amount: Any, field: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidRequest(f"{field} must be an integer number of minor units (fen)", field=field)
    if amount <= 0:
        raise InvalidRequest(f"{field} must be positive", field=field)
    if amount > AMOUNT_MINOR_MAX:
        raise InvalidRequest(f"{field} must be at most {AMOUNT_MINOR_MAX}", field=field)
    return amount


def check_currency(code: str, expected: str, *, whose: str = "this merchant is paid") -> str:
    if code not in BY_ALPHA:
        raise InvalidRequest(
            f"unknown currency {code!r}: use an ISO 4217 code such as CNY", field="currency"
        )
    if code != expected:
        raise CurrencyMismatch(f"{whose} in {expected}", field="currency")
    return code


def check_merchant_ref(value: str, field: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= 64 or not value.isprintable():
        raise InvalidRequest(f"{field} must be 1 to 64 printable characters", field=field)
    return value


def check_seconds(value: Any, field: str, low: int, high: int) -> int:
    """A lifetime in whole seconds between ``low`` and ``high``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(f"{field} must be between {low} and {high}", field=field)
    return value


def authorise(wallets: Wallets, consumer: Consumer, pin: str | None) -> str:
    """The authorisation a wallet debit rests on: ``pin:<check id>``, the recorded check.

    Debits without the PIN (payment-code charges under the payer's limits) do not come here:
    they say ``no_pin_limit:...`` and take their share of the day's allowance with
    ``Wallets.reserve_no_pin`` inside the transaction that records them.
    """
    authorisation, pending = authorise_later(wallets, consumer, pin)
    if pending is not None:
        wallets.pin_passed(pending)
    return authorisation


def authorise_later(
    wallets: Wallets, consumer: Consumer, pin: str | None, claimed: PinTry | None = None
) -> tuple[str, PinPass | None]:
    """As :func:`authorise`; on PostgreSQL the right PIN's try is given back, and its check
    recorded, by the money movement it authorises (``Wallets.pin_passed_in`` in its record,
    one statement more on the ledger's pipeline instead of a round trip of its own), or after
    it, whatever came of it (``Wallets.pin_passed``). ``claimed``: the PIN's try, if the
    statement that read what is paid claimed it already."""
    if pin is not None:
        check_id, pending = wallets.verify_pin_later(consumer.id, pin, claimed=claimed)
        return "pin:" + check_id, pending
    raise PinRequired("confirm the payment with your PIN", field="pin")
