"""Currencies (ISO 4217) and integer money arithmetic.

Money is always an integer count of the currency's minor unit (fen for CNY). Nothing here accepts
a float: a split uses the largest-remainder method so the parts always add up to the whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

AMOUNT_MINOR_MAX = 10**15  # one transfer; far above any real payment, far below int64 overflow


@dataclass(frozen=True, slots=True)
class Currency:
    alpha: str  # ISO 4217 alphabetic code, e.g. "CNY"
    numeric: str  # ISO 4217 numeric code as three digits, e.g. "156"
    exponent: int  # digits after the decimal point of the major unit
    name: str


_CURRENCIES = (
    Currency("AUD", "036", 2, "Australian dollar"),
    Currency("BRL", "986", 2, "Brazilian real"),
    Currency("CAD", "124", 2, "Canadian dollar"),
    Currency("CHF", "756", 2, "Swiss franc"),
    Currency("CNY", "156", 2, "Renminbi yuan"),
    Currency("EUR", "978", 2, "Euro"),
    Currency("GBP", "826", 2, "Pound sterling"),
    Currency("HKD", "344", 2, "Hong Kong dollar"),
    Currency("IDR", "360", 2, "Indonesian rupiah"),
    Currency("INR", "356", 2, "Indian rupee"),
    Currency("JPY", "392", 0, "Japanese yen"),
    Currency("KRW", "410", 0, "South Korean won"),
    Currency("KWD", "414", 3, "Kuwaiti dinar"),
    Currency("MOP", "446", 2, "Macanese pataca"),
    Currency("MYR", "458", 2, "Malaysian ringgit"),
    Currency("PHP", "608", 2, "Philippine peso"),
    Currency("SGD", "702", 2, "Singapore dollar"),
    Currency("THB", "764", 2, "Thai baht"),
    Currency("TWD", "901", 2, "New Taiwan dollar"),
    Currency("USD", "840", 2, "US dollar"),
    Currency("VND", "704", 0, "Vietnamese dong"),
)
BY_ALPHA: dict[str, Currency] = {c.alpha: c for c in _CURRENCIES}
BY_NUMERIC: dict[str, Currency] = {c.numeric: c for c in _CURRENCIES}


class UnknownCurrency(ValueError):
    """Raised when a currency code is not in Saoma's ISO 4217 table."""


def currency(code: str) -> Currency:
    """Look a currency up by alphabetic ("CNY") or numeric ("156") code."""
    found = BY_ALPHA.get(code.upper()) or BY_NUMERIC.get(code)
    if found is None:
        raise UnknownCurrency(f"unknown currency {code!r} (ISO 4217 code expected, e.g. CNY)")
    return found


def format_minor(amount_minor: int, code: str) -> str:
    """``2500, "CNY"`` -> ``"25.00"``: the decimal form of an integer minor-unit amount."""
    exponent = currency(code).exponent
    sign = "-" if amount_minor < 0 else ""
    whole, frac = divmod(abs(amount_minor), 10**exponent)
    return f"{sign}{whole}.{frac:0{exponent}d}" if exponent else f"{sign}{whole}"


_MAJOR = re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?")


def parse_major(text: str, code: str) -> int:
    """``"25.5", "CNY"`` -> ``2550``. Refuses more decimals than the currency has."""
    exponent = currency(code).exponent
    if not _MAJOR.fullmatch(text):  # Decimal also takes "١٢", "1_000", "1e400" and " 12 "
        raise ValueError(f"amount {text!r} is not a decimal number")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"amount {text!r} is not a decimal number") from exc
    if not value.is_finite():
        raise ValueError(f"amount {text!r} is not a finite number")
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount {text!r} has more than {exponent} decimals for {code}")
    return int(scaled)


def split(total_minor: int, weights: list[int]) -> list[int]:
    """Split ``total_minor`` by integer ``weights`` so the parts sum exactly to the total.

    Largest-remainder method: every part gets its floor share, and the fen left over go to the
    parts with the largest remainders (earliest first on ties), so nothing is created or lost.
    """
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise ValueError("weights must be non-negative integers with a positive sum")
    weight_sum = sum(weights)
    shares = [divmod(total_minor * w, weight_sum) for w in weights]
    parts = [q for q, _ in shares]
    left = total_minor - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: -shares[i][1])
    for i in order[:left]:
        parts[i] += 1
    return parts


def rate_of(amount_minor: int, rate_ppm: int) -> int:
    """The part of an amount at a rate in parts per million, rounded half up (fees, 0.6% = 6000)."""
    return (amount_minor * rate_ppm + 500_000) // 1_000_000
