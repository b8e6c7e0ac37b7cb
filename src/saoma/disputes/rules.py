"""The dispute rules that are plain arithmetic or text: what a payer may ask back, and how much
of a payment's gross amount a refund of that is."""

from __future__ import annotations

from typing import Any

from saoma.core.errors import InvalidRequest
from saoma.payments.refunds import refund_share

TEXT_MAX = 1000


def check_text(field: str, value: str, *, required: bool) -> str:
    """Free text: line breaks and tabs allowed, other control characters not."""
    value = value.strip()
    if required and not value:
        raise InvalidRequest(f"{field} is required", field=field)
    if len(value) > TEXT_MAX:
        raise InvalidRequest(f"{field} is {TEXT_MAX} characters at most", field=field)
    if any((ord(ch) < 32 and ch not in "\n\t") or ord(ch) == 127 for ch in value):
        raise InvalidRequest(f"{field} must not contain control characters", field=field)
    return value


def payer_left(payment: Any) -> int:
    """What the payer may still get back of a payment: what is left of it less the part of a
    campaign's discount that has not gone back yet (the payer never paid that)."""
    left: int = (payment.amount - payment.refunded) - (payment.subsidy - payment.subsidy_refunded)
    return left


def gross_for(payment: Any, asked: int) -> int:
    """The refund (of the payment's gross amount) that gives the payer ``asked`` back.

    A refund of ``r`` gives the payer ``r`` less the campaign's share of it
    (:func:`saoma.payments.refunds.refund_share`), which grows by at most one per unit of ``r``:
    the smallest ``r`` giving ``asked`` is found by bisection; all that is left when the payer
    asks for all they may.
    """
    left: int = payment.amount - payment.refunded
    if asked >= payer_left(payment):
        return left

    def to_payer(r: int) -> int:
        seen = payment.refunded
        back = refund_share(payment.subsidy, seen + r, payment.amount)
        return r - (back - refund_share(payment.subsidy, seen, payment.amount))

    low, high = 1, left
    while low < high:
        mid = (low + high) // 2
        if to_payer(mid) >= asked:
            high = mid
        else:
            low = mid + 1
    return low
