"""A merchant's business details, checked one field at a time, each error naming its field."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from saoma.core.errors import InvalidRequest

LEGAL_NAME_MIN = 2
LEGAL_NAME_MAX = 100
# China's unified social credit code (GB 32100-2015): 18 characters from this alphabet.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC = re.compile(r"^[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}\Z")
_GENERIC_LICENCE = re.compile(r"^[0-9A-Z]{5,32}\Z")
_MCC = re.compile(r"^[0-9]{4}\Z")
_RESIDENT_ID = re.compile(r"^[0-9]{17}[0-9X]\Z")
_PASSPORT = re.compile(r"^[0-9A-Z]{6,20}\Z")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True, slots=True)
class Details:
    legal_name: str
    licence_number: str
    category: str
    owner_id_number: str


def resident_id_check(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of a PRC resident ID's first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def _legal_name(value: Any) -> str:
    name = " ".join(str(value or "").split())
    if not LEGAL_NAME_MIN <= len(name) <= LEGAL_NAME_MAX:
        raise InvalidRequest(
            f"legal_name is {LEGAL_NAME_MIN} to {LEGAL_NAME_MAX} characters", field="legal_name"
        )
    return name


def _licence(value: Any) -> str:
    text = str(value or "").strip().upper().replace(" ", "").replace("-", "")
    if len(text) == 18 and not _USCC.match(text) and _GENERIC_LICENCE.match(text):
        bad = sorted({ch for ch in text if ch not in _USCC_ALPHABET})
        if bad:
            raise InvalidRequest(
                "licence_number: an 18-character unified social credit code has no"
                f" {', '.join(bad)} (digits and capital letters except I, O, Z, S, V)",
                field="licence_number",
            )
    if not (_USCC.match(text) or _GENERIC_LICENCE.match(text)):
        raise InvalidRequest(
            "licence_number is an 18-character unified social credit code or 5 to 32"
            " letters and digits",
            field="licence_number",
        )
    return text


def _category(value: Any) -> str:
    text = str(value or "").strip()
    if not _MCC.match(text):
        raise InvalidRequest(
            "category is a four-digit ISO 18245 merchant category code", field="category"
        )
    return text


def _owner_id(value: Any) -> str:
    text = str(value or "").strip().upper().replace(" ", "")
    if _RESIDENT_ID.match(text):
        if resident_id_check(text[:17]) != text[17]:
            raise InvalidRequest(
                "owner_id_number: the resident ID's last character (its check digit) does not"
                " match: check the number",
                field="owner_id_number",
            )
        return text
    if len(text) == 18 and text[:17].isdigit():
        raise InvalidRequest(
            "owner_id_number: a resident ID ends in a digit or X", field="owner_id_number"
        )
    if _PASSPORT.match(text) and not (len(text) == 18 and text.isdigit()):
        return text
    raise InvalidRequest(
        "owner_id_number is an 18-character resident ID or a passport number (6 to 20 letters"
        " and digits)",
        field="owner_id_number",
    )


def checked(raw: dict[str, Any]) -> Details:
    """The details, normalised, or an ``InvalidRequest`` naming the first field that is wrong."""
    return Details(
        _legal_name(raw.get("legal_name")),
        _licence(raw.get("licence_number")),
        _category(raw.get("category")),
        _owner_id(raw.get("owner_id_number")),
    )


def masked(last4: str, length: int = 18) -> str:
    """How an owner's ID number is shown: its last four characters after asterisks."""
    return "*" * max(0, length - len(last4)) + last4 if last4 else ""
